"""Agent bots and their inbox assignments."""
