"""MNIST Studio: train a neural network on handwritten digits and see what it learned."""

import streamlit as st

import ui

ui.keep_keras_state_between_runs()
ui.ignore_client_cache_clears_in_the_demo()
st.set_page_config(
    page_title="MNIST Studio",
    page_icon=":material/draw:",
    layout="wide",
    initial_sidebar_state="auto",
)

# A run store that cannot be reached or read is said once, at the top of every page.
ui.run_store_banner()
navigation = st.navigation(
    [
        st.Page(page.path, title=page.title, icon=page.icon, default=page.default)
        for page in ui.PAGES
    ]
)
# The Train page shows its job itself; a second live view there only adds server load.
ui.sidebar_status(live=navigation.url_path != "train")
ui.watch_jobs()
# One of a few page runs computing at once: a burst of new sessions waits its turn.
with ui.page_run_slot():
    navigation.run()
