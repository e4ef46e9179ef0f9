"""Version control adapters. `roar.vcs.git` is the only module in roar that runs git."""
