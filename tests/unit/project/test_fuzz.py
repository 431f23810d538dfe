"""Property-based fuzzing of what visitors and links hand the app (Hypothesis).

Whatever the input, the readers return a valid value or raise their named error (a
ValueError subclass with a sentence for the visitor), never another exception.
"""

import gzip
import json
import struct

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.data.idx import IdxError, read_idx, read_idx_header
from core.nn.config import MAX_SHOWN_CHARACTERS, TrainingConfig
from core.nn.uploads import UploadError, config_from_json

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELD_NAMES = list(TrainingConfig().to_dict())
# JSON values of every kind, including huge numbers, deep nesting and odd strings.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=10,
)
config_objects = st.dictionaries(
    st.sampled_from(FIELD_NAMES) | st.text(max_size=12), json_values, max_size=8
)


def assert_message_is_short(error: Exception) -> None:
    # A bad value is quoted, cut short: the message never repeats a huge input.
    assert len(str(error)) < 400 + 2 * MAX_SHOWN_CHARACTERS


@FUZZ
@given(config_objects)
def test_a_configuration_object_gives_a_config_or_a_value_error(data):
    text = json.dumps(data)
    try:
        config = TrainingConfig.from_json(text)
    except ValueError as error:
        assert_message_is_short(error)
        return
    assert TrainingConfig.from_json(config.to_json()) == config


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")))
@example('{"epochs": ' + "9" * 5000 + "}")
@example('{"dropout": ' + "9" * 400 + "}")
@example("[" * 5000 + "]" * 5000)
@example('{"hidden_layers": [' + "1" * 4000 + "]}")
def test_any_configuration_text_gives_a_config_or_a_value_error(text):
    try:
        TrainingConfig.from_json(text)
    except ValueError as error:
        assert_message_is_short(error)


@FUZZ
@given(st.binary(max_size=300))
@example(b'{"epochs": ' + b"9" * 5000 + b"}")
@example(b'{"config": {"seed": ' + b"7" * 4301 + b"}}")
def test_an_uploaded_configuration_file_gives_a_config_or_an_upload_error(data):
    try:
        config = config_from_json(data, "upload.json")
    except UploadError as error:
        assert str(error)
    else:
        assert isinstance(config, TrainingConfig)


query_values = (
    st.text(max_size=30)
    | st.integers().map(str)
    | st.floats().map(repr)
    | st.lists(st.integers(min_value=-5, max_value=5000), max_size=6).map(
        lambda sizes: ",".join(map(str, sizes))
    )
)


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), query_values))
@example({"epochs": "9" * 5000, "seed": "1e999", "dropout": "nan", "train_size": "-0"})
@example({"epochs": "x` **[Your session expired](https://evil.example/login)** `"})
def test_a_share_link_gives_a_valid_config_and_the_names_it_ignored(params):
    config, ignored = TrainingConfig.from_query_params(params)
    assert isinstance(config, TrainingConfig)
    assert TrainingConfig.from_json(config.to_json()) == config
    assert all(len(name) <= MAX_SHOWN_CHARACTERS for name in ignored)
    assert len(ignored) <= len(params)
    # The link the page writes back for it reads back as the same configuration.
    assert TrainingConfig.from_query_params(config.to_query_params()) == (config, [])


def idx_like_bytes():
    """Byte strings near a valid IDX file: a magic number, sizes, then some payload."""
    header = st.builds(
        lambda type_code, sizes: (
            bytes([0, 0, type_code, len(sizes)]) + struct.pack(f">{len(sizes)}I", *sizes)
        ),
        st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x01, 0xFF]),
        st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=0, max_size=70)
        | st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=4),
    )
    raw = st.builds(lambda head, tail: head + tail, header, st.binary(max_size=64))
    return raw | raw.map(gzip.compress) | st.binary(max_size=200)


@FUZZ
@given(idx_like_bytes())
@example(bytes([0, 0, 8, 70]) + b"\x00\x00\x00\x00" * 70)
@example(bytes([0, 0, 8, 3]) + struct.pack(">3I", 0, 2**32 - 1, 2**32 - 1))
@example(b"\x1f\x8b" + b"\x00" * 20)
def test_any_bytes_give_an_idx_array_or_an_idx_error(data):
    try:
        header = read_idx_header(data, name="fuzz.idx")
    except IdxError as error:
        assert "fuzz.idx" in str(error)
    else:
        assert header.ndim == len(header.shape) >= 1
    try:
        array = read_idx(data, name="fuzz.idx", max_bytes=1 << 20)
    except IdxError as error:
        assert "fuzz.idx" in str(error)
    else:
        assert array.dtype == np.uint8
        assert array.shape == read_idx_header(data).shape
