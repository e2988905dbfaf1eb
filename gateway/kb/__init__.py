"""The knowledge base: documents imported into collections, searched by keyword and by
meaning, answered with citations.

import (walk, formats/, passages, embeddings) -> store (passages with a full-text index and
vectors) -> search (keyword, semantic, fusion) -> answer (best passages, trimmed, cited).
`eval` measures retrieval; `cli` and `http` are the commands and the admin routes.
"""
