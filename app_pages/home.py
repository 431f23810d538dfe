"""Home: what MNIST Studio does and where to start."""

import streamlit as st

import ui
from core.measurements import ARTICLE_REPORTED, MEASURED
from core.nn.presets import ARTICLE_GAP

st.title("MNIST Studio")
st.markdown(
    "Train a neural network on **70,000 handwritten digits** right here in the browser, "
    "watch it learn, look inside it, and test it on digits you draw yourself."
)

with st.expander("What is MNIST, and what is a neural network?"):
    st.markdown(
        "MNIST is a classic collection of 28×28-pixel grey images of the digits 0 to 9, "
        "written by hundreds of people: 60,000 for training and 10,000 for testing.  \n"
        "A neural network is a stack of **layers** of simple units called **neurons**; each "
        "neuron adds up its inputs with learned weights and passes the sum through an "
        "**activation** function. Training nudges the weights, batch by batch, so the "
        "network's guesses match the labels more often."
    )

st.subheader("Where to start")
steps = (
    ("explore", "1. Explore the data", "Browse the digits, their pixel values and labels."),
    ("train", "2. Train a network", "Pick neurons, layers and epochs; watch it learn live."),
    ("evaluate", "3. Evaluate it", "Confusion matrix, mistakes, and what the neurons learned."),
    ("draw", "4. Draw a digit", "Write a digit with the mouse and see the prediction."),
    ("compare", "5. Compare runs", "Every run side by side, with classical baselines."),
)
columns = st.columns(len(steps))
for column, (name, label, caption) in zip(columns, steps, strict=True):
    with column, st.container(border=True):
        st.page_link(ui.page_path(name), label=label)
        st.caption(caption)

article = MEASURED["As in the article"]
st.caption(
    "The tutorial this app grows from trains a 784-128-10 network for 20 epochs and reports "
    f"**{ARTICLE_REPORTED}** test accuracy. The *As in the article* preset on the Train page "
    "trains the same network the same way (Adam, raw pixels 0-255, its 45,000/15,000 split, "
    f"batch 128) and reaches **{article.text}** here ({article.seeds}, measured), so the "
    "network is the same but the number is not."
)
with st.expander(f"Why more here than the article's {ARTICLE_REPORTED}?"):
    st.markdown(ARTICLE_GAP)

with st.container(border=True):
    st.page_link(ui.page_path("classroom"), label="Teaching a class?", icon=":material/school:")
    st.caption(
        "Start a class: students join with a code and a name, train against one challenge "
        "and see a live leaderboard; you see everyone's runs and keep the results as CSV."
    )
