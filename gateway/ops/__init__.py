"""Operations: the dead-letter keeper and re-drives, tokens and their scopes, export, erase
and replay, and the commands that run them (`botgate dead|token|export|erase|replay`)."""
