"""`core.jobs.outcome.job_outcome` and `core.jobs.early_stopping_plan`, with real values."""

from types import SimpleNamespace

from core.jobs.early_stopping_plan import early_stopping_plan
from core.jobs.job import JobKind, JobState
from core.jobs.outcome import job_outcome
from core.jobs.tasks import JobOutcome
from core.nn.config import TrainingConfig


class Store:
    """A run store whose run "early" was stopped by successive halving."""

    def find_run(self, run_id):
        reason = "below the best third after 1 epoch" if run_id == "early" else None
        return SimpleNamespace(metrics={"stopped_early": reason} if reason else {})


def ended(state, accuracy=None, run_id=None, error=None):
    result = None
    if accuracy is not None or run_id is not None:
        result = JobOutcome(SimpleNamespace(test_accuracy=accuracy), run_id)
    return SimpleNamespace(state=state, error=error, result=result)


def test_a_finished_job_gives_its_accuracy_and_run_number():
    job = ended(JobState.FINISHED, 0.9123, "a")
    assert job_outcome(job, {"a": 3}, Store()) == "finished: 91.2% test accuracy (run #3)"


def test_a_job_stopped_by_successive_halving_says_stopped_early():
    job = ended(JobState.STOPPED, 0.5, "early")
    assert job_outcome(job, {}, Store()) == "stopped early: 50.0% test accuracy"
    job = ended(JobState.STOPPED, 0.5, "other")
    assert job_outcome(job, {"other": 9}, Store()) == "stopped: 50.0% test accuracy (run #9)"


def test_a_failed_job_gives_its_error_and_a_missing_accuracy_is_left_out():
    assert job_outcome(ended(JobState.FAILED, error="out of memory"), {}, Store()) == (
        "failed: out of memory"
    )
    assert job_outcome(ended(JobState.CANCELLED), {}, Store()) == "cancelled"
    nan = ended(JobState.FINISHED, float("nan"), "a")
    assert job_outcome(nan, {"a": 1}, Store()) == "finished (run #1)"


def test_early_stopping_is_judged_after_the_rungs_of_the_longest_member():
    assert early_stopping_plan([]) is None
    configs = [TrainingConfig(epochs=epochs) for epochs in (2, 10)]
    plan = early_stopping_plan(configs)
    assert plan is not None
    assert plan.rungs == (1, 3, 9)
    assert plan.after == "1, 3 and 9"
    assert plan.reduction_factor == 3
    assert plan.possible
    assert plan.metric == "val_accuracy"


def test_early_stopping_is_impossible_when_no_member_passes_the_first_rung():
    plan = early_stopping_plan([TrainingConfig(epochs=1, validation_fraction=0.0)])
    assert plan is not None
    assert plan.rungs == (1,) and plan.after == "1"
    assert not plan.possible
    assert plan.metric == "accuracy"


def test_job_kinds_keep_their_stored_values():
    assert [kind.value for kind in JobKind] == ["train", "baseline", "sweep"]
    assert JobKind.TRAIN == "train" and f"{JobKind.SWEEP}" == "sweep"
