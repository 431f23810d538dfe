"""Class: a teacher starts a class and follows it; students join by code, with a name, and
see the class's leaderboard."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

import ui
from core.classes import (
    ACCURACY_WITHIN_PARAMETERS,
    ACCURACY_WITHIN_SECONDS,
    BEST_ACCURACY,
    FEWEST_PARAMETERS,
    MAX_NAME_LENGTH,
    MAX_TITLE_LENGTH,
    SETTING_FIELDS,
    SHARED,
    Challenge,
    ClassError,
    ClassInfo,
    Student,
    leaderboard,
    leaderboard_table,
    normalise_code,
    results_table,
    settings_text,
    shared_settings,
    shared_text,
)
from core.figures.compare import CurveRun, overlaid_curves
from core.figures.evaluation import confusion_matrix_figure
from core.nn import PRESETS, TrainingConfig
from core.runs import RunStoreError
from core.runs.csv_export import csv_bytes
from core.runs.display import run_colour
from core.text import plain

# How often the leaderboard and the teacher's view look for new results.
LIVE_SECONDS = 5
CHALLENGE_CHOICES = {
    BEST_ACCURACY: "Highest test accuracy",
    ACCURACY_WITHIN_PARAMETERS: "Highest accuracy with at most N parameters",
    FEWEST_PARAMETERS: "Fewest parameters that reach an accuracy",
    ACCURACY_WITHIN_SECONDS: "Highest accuracy within N seconds of training",
}
DURATIONS = {"1 hour": 1, "2 hours": 2, "1 day": 24, "1 week": 24 * 7}
KEY_JOIN_NAME = "class_join_name"
KEY_JOIN_CODE = "class_join_code"
KEY_RENAME = "class_rename"
KEY_MESSAGE = "class_message"
# The Train page's last settings (its own key), offered as the class's starting point.
KEY_TRAIN_SETTINGS = "train_saved_config"
YOUR_SETTINGS = "Your settings on the Train page"
# The secret of the teacher link this session opened (kept while the teacher visits other pages).
KEY_TEACHING = "class_teaching"


def when(seconds: float | None) -> str:
    """A time as the pages show it: "2026-12-04 14:05 UTC"."""
    if seconds is None:
        return "no end set"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def say(kind: str, text: str) -> None:
    """Keep a message for the next run of the page (after a button's rerun)."""
    st.session_state[KEY_MESSAGE] = (kind, text)


def show_message() -> None:
    message = st.session_state.pop(KEY_MESSAGE, None)
    if message is not None:
        {"error": st.error, "success": st.success, "info": st.info}[message[0]](message[1])


def explain() -> None:
    with st.expander("How a class works"):
        st.markdown(
            "A teacher starts a class and reads its **code** out (or shares the student link). "
            "Students open the link, type a name and land on Train with the class's starting "
            "settings. Every network they train counts for the class: the server scores it "
            "on its **test images**, which its training never sees (the official 10,000, or "
            "the part of the training file its split holds out), and the leaderboard "
            "keeps each student's best run under the class's rule. Students see their own "
            "runs and the leaderboard, with the settings behind every entry, so the class "
            "learns what worked. No accounts: the teacher's link is the teacher's key."
        )


# --- Starting a class (teacher) ----------------------------------------------------------


def start_class_ui() -> None:
    st.subheader("Start a class")
    with st.form("class_start", border=True):
        title = st.text_input(
            "Title", max_chars=MAX_TITLE_LENGTH, placeholder="Year 10 · Neural nets"
        )
        kinds: list[str] = list(CHALLENGE_CHOICES)
        kind: str = st.selectbox("Challenge", kinds, format_func=CHALLENGE_CHOICES.__getitem__)
        limit_column, preset_column = st.columns(2)
        parameters = limit_column.number_input(
            "Most parameters (for 'at most N parameters')", 1_000, 50_000_000, 50_000, step=1_000
        )
        accuracy = limit_column.number_input(
            "Accuracy to reach, % (for 'fewest parameters')", 10.0, 99.9, 97.0, step=0.5
        )
        seconds = limit_column.number_input(
            "Most seconds of training (for 'within N seconds')", 1, 3_600, 30
        )
        starts = list(PRESETS)
        if st.session_state.get(KEY_TRAIN_SETTINGS):
            starts.insert(0, YOUR_SETTINGS)
        preset = preset_column.selectbox("Students start from", starts, index=0)
        duration = preset_column.selectbox("The class ends after", list(DURATIONS), index=1)
        started = st.form_submit_button("Start the class", type="primary")
    st.caption(
        "A parameter is one number the network learns (a weight or a bias): a small budget "
        "makes students think about layer sizes, not only about training longer."
    )
    if not started:
        return
    limit = {
        ACCURACY_WITHIN_PARAMETERS: float(parameters),
        FEWEST_PARAMETERS: float(accuracy) / 100,
        ACCURACY_WITHIN_SECONDS: float(seconds),
    }.get(kind)
    try:
        challenge = Challenge(kind, limit)
        start = (
            TrainingConfig.from_json(st.session_state[KEY_TRAIN_SETTINGS])
            if preset == YOUR_SETTINGS
            else PRESETS[preset]
        )
        created = ui.class_store().create(
            title, challenge, start.to_dict(), hours=DURATIONS[duration],
            address=ui.network_address(),
        )  # fmt: skip
    except (ClassError, ValueError) as error:
        st.error(plain(error, 300))
        return
    except RunStoreError as error:
        st.error(plain(error, 400))
        return
    # The teacher's page from now on is the teacher link: bookmark it to come back.
    st.query_params.from_dict({ui.TEACHER_PARAM: created.secret})
    say("success", "Your class is ready. Bookmark this page: its address is your teacher link.")
    st.rerun()


# --- Joining (students) ------------------------------------------------------------------


def join_ui(code: str | None) -> None:
    st.subheader("Join a class")
    with st.form("class_join", border=True):
        typed_code = st.text_input(
            "Class code", value=code or "", max_chars=20, key=KEY_JOIN_CODE, placeholder="ABCD-EFGH"
        )
        name = st.text_input(
            "Your name in the class", max_chars=MAX_NAME_LENGTH, key=KEY_JOIN_NAME,
            help="Shown on the leaderboard to the whole class; a first name or a nickname.",
        )  # fmt: skip
        joined = st.form_submit_button("Join", type="primary")
    if not joined:
        return
    store = ui.class_store()
    try:
        info = store.for_code(typed_code)
        if info is None:
            st.error("No class has this code: check it with your teacher.")
            return
        store.join(info, ui.session_id(), name)
    except ClassError as error:
        st.error(plain(error, 300))
        return
    except RunStoreError as error:
        st.error(plain(error, 400))
        return
    ui.forget_membership()
    go_to_train(info)


def go_to_train(info: ClassInfo) -> None:
    """Open Train with the class's starting settings."""
    for key in ("train_architecture", "train_saved_config", "train_preset"):
        st.session_state.pop(key, None)
    params = {}
    if info.config is not None:
        try:
            params = TrainingConfig.from_dict(info.config).to_query_params()
        except ValueError:
            params = {}
    st.switch_page(ui.page_path("train"), query_params=params)


def student_view(info: ClassInfo, student: Student) -> None:
    st.subheader(plain(info.title, 100))
    st.markdown(f"**Challenge:** {plain(info.challenge.describe(), 200)}.")
    if student.removed:
        st.warning("Your teacher took you out of this class. Your runs are still yours.")
    elif not info.is_open():
        st.info(f"This class ended at {when(info.closed_at())}: the leaderboard is final.")
    else:
        st.caption(
            f"You are in it as **{plain(student.name, 40)}** · it ends at {when(info.ends)}."
        )
    columns = st.columns([1, 1, 2])
    if columns[0].button(
        "Train with the class's settings", type="primary", disabled=not info.is_open()
    ):
        go_to_train(info)
    if columns[1].button("Leave this class", key="class_leave"):
        ui.class_store().leave(ui.session_id())
        ui.forget_membership()
        say("info", "You left the class. Your runs are still yours.")
        st.rerun()
    with columns[2].popover("Change my name"), st.form("class_rename_form", border=False):
        new_name = st.text_input("New name", max_chars=MAX_NAME_LENGTH, key=KEY_RENAME)
        if st.form_submit_button("Change"):
            try:
                ui.class_store().join(info, ui.session_id(), new_name)
                ui.forget_membership()
                say("success", "Name changed.")
                st.rerun()
            except ClassError as error:
                st.error(plain(error, 300))
    live_leaderboard(info, student.name)


@st.fragment(run_every=LIVE_SECONDS)
def live_leaderboard(info: ClassInfo, me: str) -> None:
    entries = ui.class_store().entries(info, ui.default_dataset().name)
    st.markdown("#### Leaderboard")
    show_leaderboard(info, entries, me)
    shared_ui(info, entries)
    mine = [entry for entry in entries if entry.student == me]
    st.markdown("#### Your runs in this class")
    if not mine:
        st.caption("None yet: train a network on the Train page and it appears here when it ends.")
        return
    table = pd.DataFrame(
        [
            {
                "saved": entry.created.replace("T", " ")[:16],
                "test accuracy": entry.test_accuracy,
                "parameters": entry.parameters,
                "training s": entry.train_seconds,
                "counts": info.challenge.keeps(entry) or "yes",
                "settings": settings_text(entry.config),
            }
            for entry in mine
        ]
    )
    st.dataframe(table, hide_index=True, column_config=accuracy_columns())


def shared_ui(info: ClassInfo, entries) -> None:
    """The runs the teacher shared with the class: their settings, curves and mistakes."""
    marks = ui.class_store().marks(info.id)
    shared = [entry for entry in entries if marks.get(entry.run_id) == SHARED]
    if not shared:
        return
    st.markdown("#### Shared by your teacher")
    for entry in shared[:5]:
        try:
            run = ui.run_store().get_run(entry.run_id)
        except (OSError, ValueError):
            continue
        with st.expander(
            f"{plain(entry.student, 40)}: {100 * (entry.test_accuracy or 0):.2f}% · "
            + plain(settings_text(entry.config), 150),
            expanded=len(shared) == 1,
        ):
            curves, mistakes = st.columns(2)
            curves.plotly_chart(
                overlaid_curves(
                    {run.id: CurveRun(label=entry.student, history=run.history)}, "accuracy"
                ),
                key=f"class_shared_curves_{run.id}",
            )
            if run.confusion_matrix is not None:
                mistakes.plotly_chart(
                    confusion_matrix_figure(run.confusion_matrix, ui.default_dataset().class_names),
                    key=f"class_shared_confusion_{run.id}",
                )
    st.caption(
        "The curves show accuracy per epoch (an epoch is one pass over the training images); "
        "in the confusion matrix the diagonal is right and every other cell a kind of mistake."
    )


def accuracy_columns() -> dict:
    return {
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "training s": st.column_config.NumberColumn(format="%.1f"),
        "parameters": st.column_config.NumberColumn(format="localized"),
    }


def show_leaderboard(info: ClassInfo, entries, me: str | None = None) -> pd.DataFrame:
    """The leaderboard as a plain table (readable when projected and on a phone).

    `st.table` renders its cells as markdown, so every text cell goes through `plain`.
    """
    table = leaderboard_table(info.challenge, entries)
    if table.empty:
        st.caption("No run counts yet. Each student's best run under the rule appears here.")
        return table
    fewest = info.challenge.kind == FEWEST_PARAMETERS
    shown = pd.DataFrame(
        {
            "Rank": table["rank"].astype(int),
            "Name": [
                plain(f"{name} (you)" if name == me else name, 50) for name in table["name"]
            ],
            info.challenge.score_label(): [
                f"{int(score):,}" if fewest else f"{100 * score:.2f}%" for score in table["score"]
            ],
            **({"Test accuracy": [f"{100 * value:.2f}%" for value in table["test accuracy"]]}
               if fewest else {}),
            "Parameters": [f"{int(value or 0):,}" for value in table["parameters"]],
            "Training": [f"{value or 0:.1f} s" for value in table["training s"]],
            "Settings": [plain(text, 200) for text in table["settings"]],
            "Status": table["status"],
        }
    )  # fmt: skip
    # Ranks as text: Streamlit hides an index that looks like a default one (1, 2, 3).
    shown.index = pd.Index([str(rank) for rank in shown.pop("Rank")], name="Rank")
    st.table(shown)
    st.caption(
        "Equal scores share a rank, the earlier first. A stopped run counts with what it "
        "learned until Stop; an interrupted one has no test score and does not count."
    )
    return table


# --- The teacher's view ------------------------------------------------------------------


def teacher_view(info: ClassInfo, secret: str) -> None:
    student_link, teacher_link = ui.class_links(info, secret)
    st.subheader(plain(info.title, 100))
    st.markdown(f"**Challenge:** {plain(info.challenge.describe(), 200)}.")
    code_column, link_column = st.columns([1, 2])
    code_column.metric("Class code", info.code)
    link_column.markdown("**Student link** (share it, or read the code out):")
    link_column.code(student_link, language=None)
    with st.expander("Your teacher link (keep it to yourself)"):
        st.caption(
            "Whoever has it sees this page and can end the class. It is this page's address."
        )
        st.code(teacher_link or "", language=None)
    if info.is_open():
        st.caption(f"Open until {when(info.ends)}.")
        if st.button("End the class now", key="class_end"):
            ui.class_store().end(info.id)
            say("info", "The class has ended: its results stay here.")
            st.rerun()
    else:
        st.info(f"This class ended at {when(info.closed_at())}. Its results stay readable here.")
    live_teacher_view(info)


@st.fragment(run_every=LIVE_SECONDS)
def live_teacher_view(info: ClassInfo) -> None:
    store = ui.class_store()
    students = store.students(info.id)
    entries = store.entries(info, ui.default_dataset().name)
    training = store.training_now(info) if info.is_open() else {}
    present = [student for student in students if not student.removed]
    counts = st.columns(3)
    counts[0].metric("Students", len(present))
    counts[1].metric("Training now", sum(state == "running" for state in training.values()))
    counts[2].metric(
        "Runs that count", sum(info.challenge.keeps(entry) is None for entry in entries)
    )
    # Ranked once per refresh; the tabs share it and the best runs' stored records.
    ranked = leaderboard(info.challenge, entries)
    runs = best_runs(ranked)
    # The open tab is kept on the server (a key and on_change): this view refreshes every
    # LIVE_SECONDS, and a tab picked as a refresh redrew it was once lost in CI.
    board_tab, students_tab, curves_tab, best_tab, export_tab = st.tabs(
        ["Leaderboard", "Students", "Curves", "Best run", "Export"],
        key="class_teacher_tabs",
        on_change="rerun",
    )
    with board_tab:
        show_leaderboard(info, entries)
        top = [row.entry for row in ranked[:3]]
        common = shared_settings(top, SETTING_FIELDS)
        if len(top) >= 2 and common:
            st.markdown("**What the top entries share:** " + plain(shared_text(common), 300))
    with students_tab:
        students_ui(info, students, ranked, entries, training)
    with curves_tab:
        curves_ui(runs)
    with best_tab:
        best_run_ui(runs[:1])
    with export_tab:
        st.download_button(
            "Download the class's results (CSV)",
            csv_bytes(results_table(info.challenge, students, entries), index=False),
            file_name=f"class-{info.code}.csv",
            mime="text/csv",
            icon=":material/download:",
        )
        st.caption("One row per run: name, when, status, score, parameters, time and settings.")


def students_ui(
    info: ClassInfo, students: list[Student], ranked, entries, training: dict[str, str]
) -> None:
    best = {row.entry.student: row for row in ranked}
    rows = [
        {
            "name": student.name,
            "joined": when(student.joined),
            "runs": sum(entry.student == student.name for entry in entries),
            "best": best[student.name].score if student.name in best else None,
            "now": training.get(student.name, ""),
        }
        for student in students
        if not student.removed
    ]
    if not rows:
        st.caption("Nobody has joined yet.")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    names = [row["name"] for row in rows]
    by_name = {student.name: student for student in students}
    left, right = st.columns(2)
    with left.form("class_remove_student", border=False):
        name = st.selectbox("Student", names, key="class_remove_name")
        if st.form_submit_button("Take out of the class"):
            ui.class_store().remove_student(info.id, by_name[name].owner)
            say("info", f"{name} is out of the class.")
            st.rerun(scope="app")
    counting = [entry for entry in entries if entry.test_accuracy is not None]
    if counting:
        shared = {run for run, mark in ui.class_store().marks(info.id).items() if mark == SHARED}
        labels = {
            entry.run_id: f"{entry.student} · {entry.created[11:16]} · "
            f"{100 * (entry.test_accuracy or 0):.2f}%"
            + (" · shared" if entry.run_id in shared else "")
            for entry in counting
        }
        with right.form("class_hide_run", border=False):
            run_id: str = st.selectbox(
                "Entry", list(labels), format_func=labels.__getitem__, key="class_hide_pick"
            )
            remove, share, unshare = st.columns(3)
            if remove.form_submit_button("Remove this entry"):
                ui.class_store().hide_run(info.id, run_id)
                say("info", "The entry is off the class's results.")
                st.rerun(scope="app")
            if share.form_submit_button("Share with the class"):
                ui.class_store().share_run(info.id, run_id)
                say("info", "Every student now sees this run's curves and mistakes.")
                st.rerun(scope="app")
            if unshare.form_submit_button("Stop sharing"):
                ui.class_store().share_run(info.id, run_id, shared=False)
                st.rerun(scope="app")
        st.caption(
            "Students see only their own runs and the leaderboard; a shared run's curves and "
            "confusion matrix are shown to the whole class."
        )


def best_runs(ranked, count: int = 10):
    """The stored runs behind the leaderboard's first `count` rows."""
    found = []
    for row in ranked[:count]:
        try:
            found.append((row, ui.run_store().get_run(row.entry.run_id)))
        except (OSError, ValueError):
            continue
    return found


def curves_ui(runs) -> None:
    if not runs:
        st.caption("Each student's best run's curves appear here.")
        return
    metric = st.radio("Curve", ["accuracy", "loss"], horizontal=True, key="class_curve_metric")
    curves = {
        run.id: CurveRun(label=row.entry.student, history=run.history, colour=run_colour(place))
        for place, (row, run) in enumerate(runs, start=1)
    }
    st.plotly_chart(overlaid_curves(curves, metric), key="class_curves")
    st.caption("Each student's best run: training (solid) and validation (dashed), per epoch.")


def best_run_ui(runs) -> None:
    if not runs:
        st.caption("The class's best run's confusion matrix appears here.")
        return
    row, run = runs[0]
    st.markdown(
        f"**{plain(row.entry.student, 40)}**: {100 * (row.entry.test_accuracy or 0):.2f}% "
        f"with {row.entry.parameters or 0:,} parameters · "
        + plain(settings_text(row.entry.config), 200)
    )
    if run.confusion_matrix is not None:
        st.plotly_chart(
            confusion_matrix_figure(run.confusion_matrix, ui.default_dataset().class_names),
            key="class_best_confusion",
        )
        st.caption(
            "Rows are the true digits, columns what the network said: the diagonal is right, "
            "every other cell a kind of mistake."
        )


# --- The page ----------------------------------------------------------------------------

st.title("Class")
show_message()
code = st.query_params.get(ui.CODE_PARAM)
# The teacher link's secret, from the address or, after a visit to another page (whose address
# has no secret), from this session; put back into the address so it stays the teacher link.
secret = st.query_params.get(ui.TEACHER_PARAM)
if secret is None and code is None:
    secret = st.session_state.get(KEY_TEACHING)
try:
    if secret is not None:
        teaching = ui.class_store().for_teacher(secret)
        if teaching is None:
            st.session_state.pop(KEY_TEACHING, None)
            st.error("This teacher link is not valid: check that it was copied whole.")
        else:
            st.session_state[KEY_TEACHING] = secret
            if st.query_params.get(ui.TEACHER_PARAM) != secret:
                st.query_params[ui.TEACHER_PARAM] = secret
            teacher_view(teaching, secret)
            if st.button("Close the teacher's view", key="class_close_teaching"):
                st.session_state.pop(KEY_TEACHING, None)
                st.query_params.clear()
                st.rerun()
    else:
        membership = ui.my_class()
        if membership is not None and (code is None or membership[0].code == normalise_code(code)):
            student_view(*membership)
        else:
            join_column, start_column = st.columns(2)
            with join_column:
                join_ui(code)
            with start_column:
                start_class_ui()
except RunStoreError as error:
    st.error(plain(error, 400))
explain()
