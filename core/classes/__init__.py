"""Classes: a teacher's link, students by name, a challenge and its leaderboard.

Modules, top to bottom:
    results     the leaderboard and the teacher's CSV as tables
    store       `ClassStore`: classes, students and removed entries in the run store's database
    challenges  `Challenge` (the rule a class competes on), `Entry`, `leaderboard`
    codes       class codes read aloud, the teacher's secret, the odds of guessing a code
    names       students' names and classes' titles, bounded and compared without case
"""

from core.classes.challenges import (
    ACCURACY_WITHIN_PARAMETERS,
    ACCURACY_WITHIN_SECONDS,
    BEST_ACCURACY,
    FEWEST_PARAMETERS,
    KINDS,
    Challenge,
    Entry,
    Ranked,
    leaderboard,
    shared_settings,
)
from core.classes.codes import code_space, guesses_for_even_odds, normalise_code
from core.classes.names import MAX_NAME_LENGTH, MAX_TITLE_LENGTH, checked_name, checked_title
from core.classes.results import (
    SETTING_FIELDS,
    leaderboard_table,
    results_table,
    settings_text,
    shared_text,
)
from core.classes.store import (
    HIDDEN,
    MAX_CLASS_HOURS,
    SHARED,
    ClassError,
    ClassInfo,
    ClassStore,
    NewClass,
    Student,
)

__all__ = [
    "ACCURACY_WITHIN_PARAMETERS",
    "ACCURACY_WITHIN_SECONDS",
    "BEST_ACCURACY",
    "FEWEST_PARAMETERS",
    "HIDDEN",
    "KINDS",
    "MAX_CLASS_HOURS",
    "MAX_NAME_LENGTH",
    "MAX_TITLE_LENGTH",
    "SETTING_FIELDS",
    "SHARED",
    "Challenge",
    "ClassError",
    "ClassInfo",
    "ClassStore",
    "Entry",
    "NewClass",
    "Ranked",
    "Student",
    "checked_name",
    "checked_title",
    "code_space",
    "guesses_for_even_odds",
    "leaderboard",
    "leaderboard_table",
    "normalise_code",
    "results_table",
    "settings_text",
    "shared_settings",
    "shared_text",
]
