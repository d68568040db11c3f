"""The studio's routers, one module per resource; ``create_app`` mounts every ``router``."""
