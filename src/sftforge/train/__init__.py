"""Training a model on sftforge's data: ``sftforge train`` (config, data, plan, loop, log, chart,
hand-over), and what follows it: ``merge`` an adapter, ``chat`` with a model, ``evaluate`` it
against its base (``load``, ``judging``, ``eval_report``, ``method_table``). Library functions
first: the CLI and the studio call them. Import the modules themselves (they pull torch,
transformers and peft from the ``[train]`` extra only when used)."""
