"""The upload route holds at most a bound of files per session (issue 20, break 4).

A real server in the demo profile, and PUTs to `/_stcore/upload_file/<session>/<file>` with
the XSRF cookie and header, as the browser's file uploader sends them.
"""

import pytest

from core.data.datasets import MEGABYTE
from core.settings import SESSION_UPLOAD_FILES
from testkit.harness import start_streamlit, stop_streamlit
from testkit.streamlit_client import StreamlitClient

pytestmark = pytest.mark.browser

# With files of at most 1 MB, a session may hold SESSION_UPLOAD_FILES MB of them.
FILE_BYTES = int(0.9 * MEGABYTE)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upload-route")
    process, base_url, _ = start_streamlit(
        folder, {"MNIST_STUDIO_DEMO_MODE": "1", "MNIST_STUDIO_MAX_UPLOAD_MB": "1"}
    )
    yield base_url
    stop_streamlit(process)


def test_a_session_cannot_hold_more_than_its_bound_of_uploaded_files(demo_server):
    client = StreamlitClient(demo_server)
    client.open("explore")
    data = bytes(FILE_BYTES)
    ids = [f"file-{number}" for number in range(SESSION_UPLOAD_FILES + 2)]
    statuses = [client.upload(data, f"{file_id}.bin", file_id) for file_id in ids]
    assert statuses == [204] * SESSION_UPLOAD_FILES + [413, 413]

    # Removing a file (as the uploader's x does) makes room for one more.
    assert client.delete_upload(ids[0]) == 204
    assert client.upload(data, "again.bin") == 204
    assert client.upload(data, "one-too-many.bin") == 413

    # The bound is per session: another session still uploads.
    other = StreamlitClient(demo_server)
    other.open("explore")
    assert other.upload(data, "theirs.bin") == 204
    client.close()
    other.close()


def test_an_upload_without_its_length_is_refused(demo_server):
    import http.client
    from urllib.parse import urlparse

    client = StreamlitClient(demo_server)
    client.open("explore")
    connection = http.client.HTTPConnection(urlparse(demo_server).netloc, timeout=60)
    connection.putrequest("PUT", f"/_stcore/upload_file/{client.session_id}/chunked")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("X-Xsrftoken", client.xsrf_token())
    connection.putheader("Cookie", client.cookie_header())
    connection.endheaders()
    connection.send(b"0\r\n\r\n")
    assert connection.getresponse().status == 411
    connection.close()
    client.close()
