"""What tests and benchmarks share: app servers, a protocol client, attack files, samples.

`harness` (servers, AppTest, Chromium), `browser` (driving a page in Chromium),
`streamlit_client` (the WebSocket protocol), `attack_files`, `drawings`, `nondigits`,
`photo_samples`, `charts` (an AppTest's plotly figures), `jobs` (a gated job) and
`quoted_figures` (the percentages page copy may give). Nothing here imports from `tests/`.
"""
