"""Per-rerun savings in ui/ keep what the browser gets unchanged."""

from __future__ import annotations

from pathlib import Path

import plotly.io
import plotly.tools

import ui
from lib import charts

ROOT = Path(__file__).resolve().parent.parent


def spec(fig) -> str:
    """What st.plotly_chart sends for a figure (its two calls, as in streamlit/elements/plotly_chart.py)."""
    return plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True), validate=False)


def test_cached_figure_sends_the_same_spec_from_its_kept_dict():
    fresh = charts.status_donut({"已完成": 3, "正常推进": 20, "滞后": 5, "严重滞后": 2}, "项目状态分布")
    expected = spec(fresh)
    shared = ui._cached_figure(("test-donut", "folder", "v1", None, ()), lambda: fresh)
    assert isinstance(shared, ui.SharedFigure)
    assert spec(shared) == expected
    assert shared.to_dict() is shared.to_dict()  # made once, not per rerun
    assert spec(shared) == expected  # sending it did not change it
    assert plotly.io.to_json(shared.to_dict(), validate=False) is plotly.io.to_json(shared.to_dict(), validate=False)
    again = charts.status_donut({"已完成": 3, "正常推进": 20, "滞后": 5, "严重滞后": 2}, "项目状态分布")
    assert spec(again) == expected  # any other figure is converted as Plotly converts it
    assert plotly.io.to_json(shared.to_dict(), pretty=True) != expected  # other options: Plotly's own conversion


def test_a_new_revision_shows_at_once_though_the_list_is_cached(demo_copy):
    from lib import publish as PB
    from lib.store import Store

    store, folder = Store(demo_copy), str(demo_copy)
    before = store.publications_version()
    assert ui._revision_options(folder, 2024, 6).empty
    assert store.publications_version() == before  # reading moves nothing
    PB.publish(store, 2024, 6, "李四")
    assert store.publications_version() != before
    assert ui._revision_options(folder, 2024, 6)["revision"].tolist() == [0]
    PB.publish(store, 2024, 6, "李四", reason="更正")
    assert ui._revision_options(folder, 2024, 6)["revision"].tolist() == [0, 1]
    # the one query a rerun makes names both states exactly as the two single reads do
    assert store.versions() == (store.version(), store.publications_version())


def test_one_store_per_folder_and_database_url(monkeypatch):
    """With LIVELIHOOD_DATABASE_URL set, the same folder on another database is another store."""
    from lib.store import DATABASE_URL_ENV
    from ui import data

    made = []
    monkeypatch.setattr(data, "Store", lambda folder, url: made.append((folder, url)) or object())
    data._store.clear()
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    sqlite = data.get_store("/srv/data")
    assert data.get_store("/srv/data") is sqlite
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://app@127.0.0.1/one")
    one = data.get_store("/srv/data")
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://app@127.0.0.1/two")
    two = data.get_store("/srv/data")
    assert len({id(sqlite), id(one), id(two)}) == 3
    assert made == [("/srv/data", ""), ("/srv/data", "postgresql://app@127.0.0.1/one"),
                    ("/srv/data", "postgresql://app@127.0.0.1/two")]
    data._store.clear()


def test_a_kept_table_sends_what_a_fresh_styler_sends():
    """ui.readable formats and marshals a frame once; what st.dataframe gets is byte for byte a fresh Styler's."""
    import gc

    import pandas as pd
    import pyarrow
    from streamlit.proto.ArrowData_pb2 import ArrowData

    from lib.formatting import display_table
    from ui import widgets

    frame = pd.DataFrame({"指标": ["P1-1", "P1-2", "P1-3"], "完成率": [0.7931, None, 1.2], "差距": [-20.66, 3.0, None],
                          "月份": [6, 5, None], "存在问题": ["资金未到位", None, ""]})
    fresh = display_table(frame, percent=["完成率"], points=["差距"], months=["月份"])
    kept = ui.readable(frame, ("完成率",), ("差距",), ("月份",))
    assert ui.readable(frame, ("完成率",), ("差距",), ("月份",)) is kept  # one Styler per frame and choice
    assert ui.readable(frame, ("完成率",), (), ("月份",)) is not kept  # another choice, another Styler
    kept = ui.readable(frame, ("完成率",), ("差距",), ("月份",))
    fresh.set_uuid("t")
    kept.set_uuid("t")
    expected = ArrowData()
    widgets._marshall_styler(expected, fresh, "u")
    sent = []
    for _ in range(2):  # the first call marshals and keeps, the second hands the kept form back
        proto = ArrowData()
        widgets._marshall_styler_once(proto, kept, "u")
        sent.append(proto.styler.SerializeToString())
    assert sent[0] == sent[1] == expected.styler.SerializeToString()
    assert not kept._display_funcs  # marshalled once: its per-cell formatters are not kept alive for nothing
    shown = pyarrow.ipc.open_stream(expected.styler.display_values).read_all().to_pandas()
    assert shown["完成率"].tolist()[0] == "79.3%" and shown["月份"].tolist()[0] == "6月"  # formatted, as read
    arrow = widgets._to_arrow_bytes(fresh.data)
    assert widgets._arrow_bytes_once(kept.data) == arrow
    assert widgets._arrow_bytes_once(kept.data) is widgets._arrow_bytes_once(kept.data)  # converted once

    # A cached view handed to st.dataframe as it is: converted once, byte for byte what Streamlit converts.
    plain = frame.copy()
    assert ui.kept_frame(plain) is plain
    assert widgets._arrow_bytes_once(plain) == widgets._to_arrow_bytes(plain)
    assert widgets._arrow_bytes_once(plain) is widgets._arrow_bytes_once(plain)
    assert widgets._arrow_bytes_once(frame.copy()) is not widgets._arrow_bytes_once(frame.copy())  # not kept: per call
    del plain

    # Nothing is kept for a frame that is gone (a page's per-rerun frame, an evicted cached view).
    gc.collect()  # earlier tests' garbage in this process goes first: only this frame's entries are counted
    before = len(widgets._KEPT)
    other = frame.copy()
    ui.readable(other, ("完成率",))
    assert len(widgets._KEPT) > before
    del other
    gc.collect()
    assert len(widgets._KEPT) == before


def export_cell(at, code: str, county: str, column: str):
    table = at.dataframe[0].value
    return table.loc[(table["指标编号"] == code) & (table["县市区"] == county), column].iloc[0]


def test_cached_views_follow_uploads_restores_publications_and_target_tables(demo_copy, targets):
    """ui.cached keys every page's frames on the store version (or published revision): a rerun after any change
    shows it at once, in the same session, while an unchanged rerun reuses the kept frame."""
    from streamlit.testing.v1 import AppTest

    from lib import publish as PB
    from lib import schema as S
    from lib.config import BUNDLED_TARGETS
    from lib.store import Store
    from tests.factory import edit, filled

    store = Store(demo_copy)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/export.py").run()
    assert not at.exception
    shown = export_cell(at, "P26-1", "任城区", "累计完成")
    at.run()
    assert export_cell(at, "P26-1", "任城区", "累计完成") == shown

    first = store.ingest(filled(targets, "市体育局", month="2024-06", share=0.9), "a.xlsx", targets=targets)
    assert first.stored
    at.run()
    raised = export_cell(at, "P26-1", "任城区", "累计完成")
    assert raised != shown  # a new upload

    store.ingest(filled(targets, "市体育局", month="2024-06", share=0.2), "b.xlsx", targets=targets)
    at.run()
    lowered = export_cell(at, "P26-1", "任城区", "累计完成")
    assert lowered < raised
    store.restore(first.submission_id, "测试")
    at.run()
    assert export_cell(at, "P26-1", "任城区", "累计完成") == raised  # a restore

    PB.publish(store, 2024, 6, "李四")
    store.ingest(filled(targets, "市体育局", month="2024-06", share=0.2), "c.xlsx", targets=targets)
    at.run()
    assert at.radio(key="f_source").value == "已发布"  # the new publication is the default source
    assert export_cell(at, "P26-1", "任城区", "累计完成") == raised  # as published, though the live state moved
    at.radio(key="f_source").set_value("实时").run()
    assert export_cell(at, "P26-1", "任城区", "累计完成") == lowered

    def rename(ws, wb):
        sheet = wb[S.SHEET_INDICATORS]
        header = [c.value for c in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            if row[header.index("指标编号")].value == "P26-1":
                row[header.index("指标名称")].value += "（调整）"
    version = store.version()
    assert store.replace_targets(edit(BUNDLED_TARGETS.read_bytes(), rename, sheet=S.SHEET_INDICATORS), "测试") == []
    assert store.version() != version
    at.run()
    assert not at.exception
    assert export_cell(at, "P26-1", "任城区", "指标名称").endswith("（调整）")  # a new target table


def test_published_rows_taken_from_the_live_rows_are_the_stored_ones(demo_copy, targets):
    """A revision's rows come from the live rows where its versions are still current, the rest from the store:
    the same frame Store.rows_of reads, before and after a late correction supersedes one of them."""
    import pandas as pd

    from lib import publish as PB
    from lib.store import Store
    from tests.factory import filled
    from ui.data import _published_rows

    store = Store(demo_copy)
    pub = PB.publish(store, 2024, 6, "李四")
    ids = pub.versions["submission_id"].dropna()
    pd.testing.assert_frame_equal(_published_rows(store, store.current_rows(2024), ids), store.rows_of(ids))
    assert store.ingest(filled(targets, "市体育局", month="2024-06", share=0.9), "late.xlsx", targets=targets).stored
    live = store.current_rows(2024)
    assert not set(ids.astype(int)) <= set(live["submission_id"])  # one version is no longer current
    pd.testing.assert_frame_equal(_published_rows(store, live, ids), store.rows_of(ids))


def test_shared_memo_builds_a_key_once_across_sessions_and_keeps_the_newest():
    import threading
    import time

    from ui.data import SharedMemo

    memo, builds = SharedMemo(2), []

    def build():
        builds.append(1)
        time.sleep(0.05)  # a second session asks while the first builds
        return object()
    values = []
    threads = [threading.Thread(target=lambda: values.append(memo.get(("k", 1), build))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len({id(v) for v in values}) == 1
    memo.get(("k", 2), object)
    memo.get(("k", 1), build)  # a hit: now the newest
    memo.get(("k", 3), object)  # evicts ("k", 2), the least recently used
    assert len(builds) == 1
    before = memo.get(("k", 2), object)
    assert memo.get(("k", 2), object) is before and len(builds) == 1
    memo.clear()
    memo.get(("k", 1), build)
    assert len(builds) == 2


def test_a_failed_build_is_not_kept_and_is_built_again():
    """SharedMemo: a build that raises keeps neither a value nor its per-key lock; the next call builds anew."""
    import pytest

    from ui.data import SharedMemo

    memo, calls = SharedMemo(4), []

    def failing():
        calls.append("failed")
        raise OSError("store unreadable")

    with pytest.raises(OSError):
        memo.get(("k",), failing)
    assert memo._building == {} and memo._values == {}
    assert memo.get(("k",), lambda: calls.append("built") or 7) == 7 and calls == ["failed", "built"]
    assert memo._building == {}


def test_the_theme_every_rerun_sends_is_made_once_and_unchanged():
    """ui.server: the new_session message's theme sections are Streamlit's own, made once per config parse."""
    from streamlit.proto.NewSession_pb2 import NewSession
    from streamlit.runtime import app_session

    from ui import server

    assert app_session._populate_theme_msg is server._populate_theme_once
    server._forget_themes()
    for section in ("theme", "theme.light", "theme.dark", "theme.sidebar", "theme.light.sidebar"):
        fresh, kept, again = NewSession(), NewSession(), NewSession()
        server._populate_theme(fresh.custom_theme, section)
        server._populate_theme_once(kept.custom_theme, section)
        made = server._THEMES[section]
        server._populate_theme_once(again.custom_theme, section)
        assert server._THEMES[section] is made  # made once
        assert kept.SerializeToString() == again.SerializeToString() == fresh.SerializeToString()
    theme = NewSession()
    server._populate_theme_once(theme.custom_theme)
    assert theme.custom_theme.primary_color == "#2f80ed"  # .streamlit/config.toml's [theme], not an empty message


def test_a_streamlit_without_the_theme_hook_keeps_its_own_and_the_app_still_imports(caplog):
    """ui.server.install: a Streamlit that renamed or reshaped ``_populate_theme_msg`` is left alone, with a warning."""
    import types

    from ui import server

    def other_shape(msg, section, extra):  # an upgrade that changed the arguments
        return None

    for session_module in (types.SimpleNamespace(), types.SimpleNamespace(_populate_theme_msg=other_shape)):
        config_module = types.SimpleNamespace(on_config_parsed=lambda *a, **k: None)
        before = dict(vars(session_module))
        with caplog.at_level("WARNING", logger="ui.server"):
            assert server.install(session_module, config_module) is False
        assert vars(session_module) == before  # Streamlit's own function untouched
        assert "not as expected" in caplog.text
        caplog.clear()

    def same_shape(msg, section="theme"):
        return None

    session_module = types.SimpleNamespace(_populate_theme_msg=same_shape)
    hooked = []
    config_module = types.SimpleNamespace(on_config_parsed=lambda fn, force_connect: hooked.append(fn))
    original = server._populate_theme
    try:
        assert server.install(session_module, config_module) is True
        assert session_module._populate_theme_msg is server._populate_theme_once
        assert session_module._livelihood_original_theme is same_shape and hooked == [server._forget_themes]
    finally:
        server._populate_theme = original  # the real Streamlit's, for the other tests


def test_compiled_page_scripts_are_kept_when_no_watcher_runs(monkeypatch, caplog):
    """ui.server.keep_scripts: with fileWatcherType "none" the last session leaving no longer forgets the compiled
    scripts (the next visitor does not compile app.py and the pages again); with a watcher Streamlit's clearing
    stays; a Streamlit whose ScriptCache changed shape keeps its own."""
    import types

    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    from ui import server

    assert ScriptCache.clear is server._clear_unless_unwatched
    cache = ScriptCache()
    code = cache.get_bytecode(str(ROOT / "app.py"))
    watcher = {"server.fileWatcherType": "none"}
    monkeypatch.setattr(server.config, "get_option", lambda name: watcher[name])
    cache.clear()
    assert cache.get_bytecode(str(ROOT / "app.py")) is code  # kept: not compiled again
    watcher["server.fileWatcherType"] = "auto"
    cache.clear()
    assert cache._cache == {}  # a developer's watching server forgets them as before

    class Reshaped:
        def clear(self, everything):  # an upgrade that changed the arguments
            return None

    module = types.SimpleNamespace(ScriptCache=Reshaped)
    with caplog.at_level("WARNING", logger="ui.server"):
        assert server.keep_scripts(module) is False
    assert Reshaped.__dict__["clear"] is not server._clear_unless_unwatched and "not as expected" in caplog.text


def test_ledger_cards_follow_a_ledger_edit_though_shared(demo_copy):
    """ui.ledger_counts is shared by every session and keyed on the ledger's own version: a new overdue item shows
    on the overview's cards at the next rerun (the store version does not move for ledger edits)."""
    import re
    from datetime import date, timedelta

    from lib import ledger
    from lib.auth import ANALYST
    from lib.store import Store
    from tests.test_pages import open_page

    def overdue(at) -> int:
        html = " ".join(m.body for m in at.markdown)
        return int(re.search(r"逾期未办结</div><div[^>]*>(\d+)<span", html).group(1))

    store = Store(demo_copy)
    targets = store.targets()
    ledger.sync(store, targets)
    at = open_page("pages/overview.py")
    before = overdue(at)
    ledger.create_item(store, targets, ledger.Actor("李科员", ANALYST), project=26, description="体育公园围挡破损",
                       source=ledger.SOURCE_INSPECTION, raised_on=date.today() - timedelta(days=40),
                       due=date.today() - timedelta(days=5))
    at.run()
    assert overdue(at) == before + 1


def test_server_connections_send_without_nagle_delay(tmp_path, caplog):
    """ui.server.no_delay: TCP_NODELAY on a listening socket bound as Streamlit binds it (protocol 0, which asyncio
    leaves with Nagle on), so what it accepts later inherits it, and on a connection it accepted before; a connection
    this process opened to someone else's port is left as it was. Without /proc it changes nothing and warns."""
    import socket

    from ui import server

    def nodelay(sock) -> int:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    with socket.socket(socket.AF_INET) as listener, socket.socket(socket.AF_INET) as other:
        for sock in (listener, other):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        before = socket.create_connection(listener.getsockname())
        accepted_before, _ = listener.accept()
        outgoing = socket.create_connection(other.getsockname())  # ours to another port: a client, not the server
        incoming, _ = other.accept()
        with before, accepted_before, outgoing, incoming:
            assert nodelay(accepted_before) == 0 and nodelay(outgoing) == 0  # as Streamlit's server has them
            assert server.no_delay() >= 4  # both listeners and the two connections they accepted
            assert nodelay(listener) and nodelay(accepted_before) and nodelay(other) and nodelay(incoming)
            assert nodelay(outgoing) == 0  # a connection to another port: not the server's, untouched
            after = socket.create_connection(listener.getsockname())
            accepted_after, _ = listener.accept()
            with after, accepted_after:
                assert nodelay(accepted_after) == 1  # inherited from the listening socket
            assert server.no_delay() == 0  # nothing left to set
    with caplog.at_level("WARNING", logger="ui.server"):
        assert server.no_delay(str(tmp_path / "no-such-dir")) == 0
    assert "Nagle" in caplog.text


def test_navigation_pages_made_once_and_each_session_has_its_own(demo_copy):
    """ui.access.nav_pages: the st.Page objects are made once per process, and each session runs its own copies
    (st.navigation marks the page to run on the object: shared ones would let one session's run clear another's)."""
    from tests.test_pages import open_page
    from ui import access

    first, second = open_page(), open_page("pages/unit.py")
    mine, theirs = first.session_state["_nav_pages"][1], second.session_state["_nav_pages"][1]
    made = next(pages for key, pages in access._NAV_PAGES.items() if key[1:] == first.session_state["_nav_pages"][0])
    assert [p.url_path for p in mine] == [p.url_path for p in theirs] == [p.url_path for p in made]
    assert not {id(p) for p in mine} & ({id(p) for p in theirs} | {id(p) for p in made})  # nothing shared
    assert [p._page for p in mine] == [p._page for p in made]  # the same resolved files, not resolved again
    assert not any(p._can_be_called for p in made)  # st.navigation never marked the shared ones
