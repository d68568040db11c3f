"""Training a model on sftforge's data: ``sftforge train`` (config, data, plan, loop, log, chart,
hand-over), and ``merge``, ``chat`` and ``eval``. Import the modules themselves (they pull torch,
transformers and peft from the ``[train]`` extra only when used)."""
