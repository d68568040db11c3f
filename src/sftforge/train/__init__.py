"""Training and what follows it: merge an adapter, chat with a model, evaluate it against its base.

Library functions first (the CLI and the studio call them); torch, transformers and peft are
imported inside the functions, so importing this package costs nothing.
"""
