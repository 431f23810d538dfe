"""The bounds of every numeric field of a training configuration.

`core.nn.config.TrainingConfig` refuses values outside them, the pages use them as their
widgets' ranges, and `core.settings.Limits` takes them as its local (most generous) caps.
"""

MAX_HIDDEN_LAYERS = 8
MAX_NEURONS = 2048
MAX_CONV_BLOCKS = 4
MAX_CONV_FILTERS = 512
MAX_DROPOUT = 0.8
MIN_LEARNING_RATE = 1e-6
MAX_LEARNING_RATE = 1.0
# Adam's decay rates of its two moving averages: 0 forgets at once, 1 would never forget.
MAX_ADAM_BETA = 0.9999
MAX_BATCH_SIZE = 60_000
MAX_EPOCHS = 200
MAX_VALIDATION_FRACTION = 0.5
MIN_TRAIN_SIZE = 100
MAX_TRAIN_SIZE = 60_000
MAX_SEED = 2**31 - 1
