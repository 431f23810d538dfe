"""Networks: configuration, architecture arithmetic, budgets, training and evaluation.

The names below are what other packages use. Importing this package loads neither
TensorFlow nor scikit-learn: `core.nn.model` (Keras models), `core.nn.training`,
`core.nn.progress`, `core.nn.evaluation`, `core.nn.baselines` and `core.nn.model_files`
(uploaded Keras models) pay for those when imported themselves.
"""

# The configuration's bounds (`core.bounds`): the Train and Compare pages set their widgets'
# ranges with them, next to the `TrainingConfig` they build.
from core.bounds import (
    MAX_ADAM_BETA,
    MAX_BATCH_SIZE,
    MAX_CONV_BLOCKS,
    MAX_CONV_FILTERS,
    MAX_DROPOUT,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_LEARNING_RATE,
    MAX_NEURONS,
    MAX_SEED,
    MAX_TRAIN_SIZE,
    MAX_VALIDATION_FRACTION,
    MIN_LEARNING_RATE,
    MIN_TRAIN_SIZE,
)
from core.nn.architecture import count_parameters, training_flops_per_sample
from core.nn.budget import (
    BudgetError,
    JobBudget,
    check_baseline_budget,
    check_budget,
    describe,
    job_budget,
    training_images,
)
from core.nn.config import (
    ACTIVATIONS,
    ARCHITECTURES,
    SCHEDULES,
    TrainingConfig,
    learning_rate_for,
)
from core.nn.optimizers import (
    DEFAULT_ADAM_BETA_1,
    DEFAULT_ADAM_BETA_2,
    OPTIMIZERS,
    OptimizerSpec,
)
from core.nn.precision import effective_precision, training_precision
from core.nn.presets import (
    ARTICLE_GAP,
    DEFAULT_PRESET,
    PRESET_NOTES,
    PRESETS,
    preset_help,
    preset_of,
)
from core.nn.query_params import format_sizes, parse_sizes
from core.nn.throughput import ASSUMED_FLOPS_PER_SECOND, Estimate, estimate
from core.nn.uploads import ModelImportError, UploadError, config_from_json

__all__ = [
    "DEFAULT_ADAM_BETA_1",
    "DEFAULT_ADAM_BETA_2",
    "MAX_ADAM_BETA",
    "ACTIVATIONS",
    "ARCHITECTURES",
    "ARTICLE_GAP",
    "ASSUMED_FLOPS_PER_SECOND",
    "DEFAULT_PRESET",
    "MAX_BATCH_SIZE",
    "MAX_CONV_BLOCKS",
    "MAX_CONV_FILTERS",
    "MAX_DROPOUT",
    "MAX_EPOCHS",
    "MAX_HIDDEN_LAYERS",
    "MAX_LEARNING_RATE",
    "MAX_NEURONS",
    "MAX_SEED",
    "MAX_TRAIN_SIZE",
    "MAX_VALIDATION_FRACTION",
    "MIN_LEARNING_RATE",
    "MIN_TRAIN_SIZE",
    "OPTIMIZERS",
    "PRESETS",
    "PRESET_NOTES",
    "SCHEDULES",
    "BudgetError",
    "Estimate",
    "JobBudget",
    "ModelImportError",
    "OptimizerSpec",
    "TrainingConfig",
    "UploadError",
    "check_baseline_budget",
    "check_budget",
    "config_from_json",
    "count_parameters",
    "describe",
    "effective_precision",
    "estimate",
    "format_sizes",
    "job_budget",
    "learning_rate_for",
    "parse_sizes",
    "preset_help",
    "preset_of",
    "training_flops_per_sample",
    "training_images",
    "training_precision",
]
