"""Local emulators of the chat platforms, speaking their real wire protocols, for offline tests."""
