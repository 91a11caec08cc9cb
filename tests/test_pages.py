"""Every page through AppTest on demo data: smoke, filters that hold across pages, the upload flow."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib import schema as S
from lib.store import DB_NAME, Store
from tests.conftest import both_backends, on_backend
from tests.factory import filled

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = {
    "pages/overview.py": ("总览", ["overview_categories", "overview_donut"]),
    "pages/category.py": ("分类进展", ["category_chart", "category_projects", "category_treemap"]),
    "pages/unit.py": ("单位进展", ["unit_rank", "unit_lagging", "unit_compliance"]),
    "pages/county.py": ("县区进展", ["county_map", "county_rank", "county_heatmap"]),
    "pages/project.py": ("1. 改造2000户困难老年人家庭设施", ["project_indicators", "project_trend", "project_counties"]),
    "pages/ledger.py": ("督办台账", []),
    "pages/upload.py": ("数据上报", []),
    "pages/export.py": ("数据导出", []),
    "pages/publish.py": ("发布与修订", []),
    "pages/report.py": ("督查通报", []),
    "pages/targets.py": ("目标表", []),
    "pages/admin.py": ("用户与审计", []),
}
# What a page without charts must show on demo data (the demo runs as an admin): the widget that does its work.
WORK = {
    "pages/ledger.py": "ledger_csv", "pages/upload.py": "upload_files", "pages/export.py": "export_csv",
    "pages/publish.py": "publish_go", "pages/report.py": "report_generate", "pages/targets.py": "targets_regenerate",
    "pages/admin.py": "admin_audit_csv",
}


def open_page(page: str | None = None, query: dict | None = None) -> AppTest:
    """A new session opened at ``page``'s address (the overview without one), with ``query`` as its query string: one
    run of app.py that navigates to the page, as a link, a bookmark or a typed address does. (Going to the overview
    first and switching from there ran every page's test through a second, unasked-for overview: on a fresh store that
    computed the overview's views for nothing.) Switching pages within a session is tested where it matters, with
    ``switch_page`` after a run."""
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)  # before the first run: the page's address (st.Page's url_path is the file's name)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    if page:  # the page itself ran, not the default page st.navigation falls back to for an unknown address
        assert at._finished_page_script_hash == at._resolve_page_hash(str(Path(APP).parent / page)), page
    return at


def chart_keys(at) -> set[str]:
    keys = set()
    for element in at.get("plotly_chart"):
        match = re.search(r"-(\w+)$", getattr(element.proto, "id", "") or "")
        if match:
            keys.add(match.group(1))
    return keys


def test_every_registered_page_has_a_smoke_test():
    from ui import PAGES as REGISTERED  # the list app.py hands to st.navigation
    registered = [path for path, *_ in REGISTERED]
    assert sorted(registered) == sorted(PAGES)
    assert "ui.nav_pages(" in Path(APP).read_text(encoding="utf-8")  # st.Page objects of ui.PAGES, made once a session


@pytest.fixture()
def on_demo(request, monkeypatch):
    """The session's demo store (read only): ``demo_dir`` on SQLite, ``pg_demo`` where a test asks for both."""
    return on_backend(request, monkeypatch, "demo_dir", "pg_demo")


@both_backends("on_demo")
@pytest.mark.parametrize("page", list(PAGES), ids=[p.split("/")[1][:-3] for p in PAGES])
def test_page_smoke(on_demo, page):
    title, charts = PAGES[page]
    at = open_page(page)
    assert any(title in t.value for t in at.title), [t.value for t in at.title]
    assert any("示例数据" in w.body for w in at.warning)  # the demo banner, on every page
    assert chart_keys(at) >= set(charts), chart_keys(at)  # each named chart drawn, not merely some charts
    if page in WORK:
        assert WORK[page] in widget_keys(at), widget_keys(at)
    assert at.selectbox(key="f_month").value == 6  # latest month with data
    assert (on_demo / DB_NAME).exists() == ("LIVELIHOOD_DATABASE_URL" not in os.environ)  # the backend asked for


def widget_keys(at) -> set[str]:
    keys = set()
    for kind in ("button", "download_button", "file_uploader", "selectbox", "multiselect"):
        keys |= {w.key for w in at.get(kind) if getattr(w, "key", None)}
    return keys


@pytest.mark.legacy_pages
def test_a_page_opened_first_by_its_url_still_has_data_and_filters(on_demo):
    """First request after a server start straight to /county: Streamlit runs the page without app.py."""
    at = open_page("pages/county.py")
    assert at.title[0].value.startswith("县区进展")
    assert at.selectbox(key="f_month") is not None and any("示例数据" in w.body for w in at.warning)


@both_backends("on_demo")
def test_overview_counts_thirty_projects(on_demo):
    at = open_page("pages/overview.py")
    html = " ".join(m.body for m in at.markdown)
    assert "项目总数" in html and ">30<" in html
    assert any("报表已收" in m.label for m in at.metric)


def test_filter_holds_across_pages_and_is_in_the_url(on_demo):
    at = open_page("pages/overview.py")
    at.multiselect(key="f_category").set_value(["教育服务"]).run()
    assert at.query_params["category"] == ["教育服务"] or at.query_params["category"] == "教育服务"
    at.switch_page("pages/category.py").run()
    assert not at.exception
    assert at.multiselect(key="f_category").value == ["教育服务"]
    table = at.dataframe[0].value
    assert set(table["类别"]) == {"教育服务"} and len(table) == 3


@both_backends("on_demo")
def test_shared_link_sets_the_view(on_demo):
    at = open_page("pages/export.py", query={"month": "3", "county": "任城区,曲阜市", "status": "滞后"})
    assert at.selectbox(key="f_month").value == 3
    assert at.multiselect(key="f_county").value == ["任城区", "曲阜市"]
    table = at.dataframe[0].value
    assert len(table)  # a subset check alone passes on an empty table
    assert set(table["县市区"]) <= {"任城区", "曲阜市"} and set(table["状态"]) == {"滞后"}
    full = open_page("pages/export.py", query={"month": "3"}).dataframe[0].value
    expected = full[full["县市区"].isin(["任城区", "曲阜市"]) & (full["状态"] == "滞后")]
    assert len(table) == len(expected)  # every matching row, not some


def test_project_page_from_a_link(on_demo):
    at = open_page("pages/project.py", query={"project": "12"})
    assert at.title[0].value.startswith("12. 方便群众新能源汽车充电")
    assert len(at.dataframe[0].value) == 5  # P12's five quantitative indicators
    # P12-5's split rule shows with the county chart (the first indicator split there is P12-1).
    at.selectbox(key="project_split_pick").select("P12-5").run()
    assert any("分解说明：文件：“在主城区打造2—3个" in c.value and "至少1个" in c.value for c in at.caption)


def test_project_page_shows_each_target_with_its_wording(on_demo):
    at = open_page("pages/project.py", query={"project": "19"})
    assert at.dataframe[0].value["年度目标"].tolist() == ["约650万人"]
    at = open_page("pages/project.py", query={"project": "6"})
    targets = dict(zip(at.dataframe[0].value["指标"], at.dataframe[0].value["年度目标"]))
    assert targets["P06-3 建设单位托育机构"] == "50家以上" and targets["P06-9 家庭托育支出与全省平均之比"] == "不高于100%"
    assert any("P06-8 推行临时托、小时托等服务模式（定性）" in d.value.get("指标", pd.Series(dtype=str)).tolist()
               for d in at.dataframe)


def upload(at: AppTest, files: dict[str, bytes]) -> list[str]:
    """Put workbooks in the upload page's file picker; the expander titles (one per file) after the check."""
    at.file_uploader(key="upload_files").set_value([(name, data, "application/octet-stream") for name, data in files.items()])
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return [e.label for e in at.expander]


@both_backends("demo_copy")
def test_upload_flow_checks_then_accepts_once(demo_copy, targets):
    at = open_page("pages/upload.py")
    before = len(Store(demo_copy).submissions())
    good = filled(targets, "市体育局", month="2024-06", share=0.55, problems="无", plan="按计划")
    bad = filled(targets, "市医保局", month="2024-06", overrides={("P19-1", S.CITY): {"累计完成": "约300万"}})
    titles = upload(at, {"体育局6月.xlsx": good, "医保局6月.xlsx": bad})
    assert any("体育局6月.xlsx" in t and "可接收" in t for t in titles)
    assert any("医保局6月.xlsx" in t and "退回" in t for t in titles)
    findings = [d.value for d in at.table if "单元格" in d.value.columns]  # a static table: open and whole
    assert any((f["单元格"] == "H7").any() and f["问题与修改方法"].str.contains("约300万").any() for f in findings)
    assert all(e.proto.expanded for e in at.expander if "错误" in e.label and "错误 0" not in e.label)
    assert len(Store(demo_copy).submissions()) == before  # nothing stored by checking
    at.button(key="upload_accept").click().run()
    assert not at.exception
    assert len(Store(demo_copy).submissions()) == before + 1
    current = Store(demo_copy).submissions().query("state == '当前' and unit == '市体育局' and month == 6")
    assert f"市体育局 2024-06：当前版本为第 {current['id'].iloc[0]} 号（体育局6月.xlsx）" in [t.value for t in at.text]
    at.run()
    at.run()  # reruns never ingest again
    assert len(Store(demo_copy).submissions()) == before + 1
    assert any("已入库" in e.label for e in at.expander)


@both_backends("demo_copy")
def test_restore_an_earlier_version(demo_copy, targets):
    store = Store(demo_copy)
    first = store.ingest(filled(targets, "市体育局", month="2024-06", share=0.5), "a.xlsx", targets=targets)
    store.ingest(filled(targets, "市体育局", month="2024-06", share=0.56), "b.xlsx", targets=targets)
    at = open_page("pages/upload.py")
    at.selectbox(key="upload_restore_pick").set_value(first.submission_id).run()
    at.button(key="upload_restore").click().run()
    assert not at.exception
    states = Store(demo_copy).submissions().set_index("id")["state"]
    assert states[first.submission_id] == "当前"


def test_hostile_narrative_is_shown_as_plain_text(demo_copy, targets):
    """HTML/script and Markdown typed into a narrative cell never become markup on a page."""
    hostile = "<script>alert('x')</script> **粗体** <img src=x onerror=alert(1)>"
    store = Store(demo_copy)
    outcome = store.ingest(filled(targets, "市体育局", month="2024-06", share=0.55,
                                  overrides={("P26-1", "任城区"): {"存在问题": hostile, "下步计划": "按计划"}}),
                           "x.xlsx", targets=targets)
    assert outcome.stored
    for page, query in (("pages/project.py", {"project": "26"}), ("pages/overview.py", {"status": "正常推进,滞后,严重滞后"})):
        at = open_page(page, query=query)
        markup = " ".join(m.body for m in at.markdown) + " ".join(c.body for c in at.caption)
        assert "<script>" not in markup and "onerror" not in markup
    at = open_page("pages/project.py", query={"project": "26"})
    history = next(d.value for d in at.dataframe if "存在问题" in d.value.columns and "月份" in d.value.columns)
    assert hostile in set(history["存在问题"])  # shown verbatim, as text in a table


def test_no_page_renders_a_narrative_as_markup(demo_copy, targets):
    """Would catch a page that starts showing narratives with st.markdown/st.caption/st.html: on every page, text typed
    by a unit never reaches a markup element unescaped (the test above checks two pages that show narratives today)."""
    marker = "**粗体标记** <b>加粗标记</b>"
    store = Store(demo_copy)
    outcome = store.ingest(filled(targets, "市体育局", month="2024-06", share=0.2,
                                  overrides={("P26-1", "任城区"): {"存在问题": marker, "下步计划": marker,
                                                                  "进展情况": marker}}),
                           "x.xlsx", targets=targets)
    assert outcome.stored
    for page in PAGES:
        at = open_page(page, query={"project": "26"} if page == "pages/project.py" else None)
        bodies = [m.body for m in at.markdown] + [c.body for c in at.caption]
        assert not [b for b in bodies if "粗体标记" in b or "加粗标记" in b], page
        # st.html shows no Markdown: a narrative may stand there only HTML-escaped (the phone cards, ui.cards)
        html = [h.proto.body for h in at.get("html") if "加粗标记" in h.proto.body]
        assert all("&lt;b&gt;加粗标记&lt;/b&gt;" in b and "<b>加粗标记" not in b for b in html), page


@both_backends("demo_copy")
def test_report_page_previews_generates_and_audits(demo_copy):
    import io

    import docx

    from lib import report as R

    at = open_page("pages/report.py")
    assert at.title[0].value == "督查通报 · 2024 年 6 月"  # the sidebar's month; nothing published in the demo
    assert any(c.value.startswith("数据：实时数据 · 未发布") for c in at.caption)
    assert any(m.label == "项目总数" and m.value == "30 个" for m in at.metric)
    lagging = at.dataframe[0].value
    assert len(lagging) and set(lagging["状态"]) <= {S.STATUS_LAGGING, S.STATUS_SEVERE}
    at.checkbox(key="report_want_pdf").uncheck().run()
    before = len(Store(demo_copy).audit_log())
    at.button(key="report_generate").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("已生成" in s.body for s in at.success)
    log = Store(demo_copy).audit_log()
    assert len(log) == before + 1 and log.iloc[0]["操作"] == R.AUDIT_ACTION
    made = at.session_state["report_made"][2]
    document = docx.Document(io.BytesIO(made.docx))
    assert document.paragraphs[0].text == R.UNPUBLISHED and len(document.tables[-1].rows) == 31
    assert at.button(key="report_pdf_off").disabled  # PDF not asked for: the button says so


def test_report_page_for_a_viewer_without_a_publication(on_demo):
    """Viewers may only download a published month's document; the demo has none, so there is nothing to generate."""
    from lib import auth

    viewer = auth.User("leader", "王局长", auth.VIEWER)
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {"demo_mode": False, "users": {"leader": {
        "name": viewer.name, "role": auth.VIEWER, "password_hash": auth.hash_password("correct-horse-9")}}}
    at.session_state["auth_user"] = viewer
    at.run()
    at.switch_page("pages/report.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("尚未发布" in i.body for i in at.info)
    assert not [b for b in at.button if b.key == "report_generate"] and not at.get("download_button")


# --- every global filter on every page (issue 20) ---------------------------------------------

VIEW_PAGES = ["pages/overview.py", "pages/category.py", "pages/unit.py", "pages/county.py", "pages/project.py",
              "pages/export.py", "pages/upload.py", "pages/targets.py", "pages/admin.py",
              "pages/report.py", "pages/ledger.py", "pages/publish.py"]
FILTERS = {"category": ("f_category", ["教育服务"], "类别"), "unit": ("f_unit", ["市民政局"], "牵头单位"),
           "county": ("f_county", ["任城区"], "县市区"), "status": ("f_status", ["滞后"], "状态"),
           "month": ("f_month", 3, "月份")}


def is_filter_note(text: str) -> bool:
    """The line under the title naming the filters set (ui.filter_summary): it changes on every page, so it is
    not evidence that a filter changed what the page shows."""
    return text.startswith(("筛选 · ", "“", "侧栏筛选不作用于本页"))


def shown(at) -> str:
    """Everything a person reads on the page: text, tables, chart data."""
    parts = [m.body for m in at.markdown] + [c.body for c in at.caption if not is_filter_note(c.body)]
    parts += [t.value for t in at.title]
    parts += [str(e.value) for e in at.metric] + [e.body for e in at.info] + [e.body for e in at.success]
    parts += [d.value.to_csv() for d in at.dataframe] + [d.value.to_csv() for d in at.table]
    parts += [f"{s.value!r} {s.options!r}" for s in at.selectbox]  # a picker the filters narrow
    parts += [getattr(c.proto, "spec", "") for c in at.get("plotly_chart")]
    return "\n".join(parts)


@pytest.mark.parametrize("name", list(FILTERS))
def test_each_global_filter_changes_every_page_or_the_page_says_why(on_demo, name):
    key, value, label = FILTERS[name]
    for page in VIEW_PAGES:
        at = open_page(page)
        before = shown(at)
        widget = at.selectbox(key=key) if key == "f_month" else at.multiselect(key=key)
        widget.set_value(value).run()
        assert not at.exception, (page, [e.message for e in at.exception])
        after = shown(at)
        notes = " ".join(c.body for c in at.caption)
        said = f"“{label}”筛选未用于" in notes or "侧栏筛选不作用于本页" in notes
        assert after != before or said, f"{page}: the {label} filter changed nothing and the page does not say why"
        if page in ("pages/upload.py", "pages/targets.py", "pages/admin.py", "pages/ledger.py"):
            assert "侧栏筛选不作用于本页" in notes


def test_county_page_honours_category_and_status(on_demo):
    at = open_page("pages/county.py", query={"category": "教育服务", "status": "滞后"})
    table = next(d.value for d in at.dataframe if "县市区" in d.value.columns)
    assert set(table["状态"]) <= {"滞后"}
    full = open_page("pages/county.py")
    everything = next(d.value for d in full.dataframe if "县市区" in d.value.columns)
    narrowed = open_page("pages/county.py", query={"category": "教育服务"})
    education = next(d.value for d in narrowed.dataframe if "县市区" in d.value.columns)
    assert education["项目数"].max() < everything["项目数"].max()  # only the category's projects are counted


def test_overview_card_and_category_bar_agree_under_filters(on_demo):
    at = open_page("pages/overview.py", query={"category": "教育服务"})
    card = next(m for m in at.metric if m.label == "平均完成率").value
    spec = next(getattr(c.proto, "spec", "") for c in at.get("plotly_chart") if "overview_categories" in c.proto.id)
    assert card in spec  # the category's bar label is the same figure as the card


def test_overview_delta_uses_the_planned_share_of_the_engine(on_demo):
    from lib import progress as P
    store = Store(on_demo)
    targets, rows = store.targets(), store.current_rows()
    city = P.city_table(targets, rows, 6)
    at = open_page("pages/overview.py")
    delta = next(m for m in at.metric if m.label == "平均完成率").proto.delta
    assert delta.startswith(f"{city['差距'].iloc[0]:+.1f} ")  # an ASCII sign: the arrow points the right way


@both_backends("demo_copy")
def test_overview_delta_follows_the_schedule_sheet(demo_copy):
    """A 序时计划 that differs from month / 12 (back-loaded work) moves the card's delta with it."""
    import io

    from openpyxl import load_workbook

    from lib import progress as P
    from lib.config import BUNDLED_TARGETS
    from lib.status import planned_share

    store = Store(demo_copy)
    plain = store.targets()
    quantitative = plain.indicators.loc[plain.indicators["指标类型"] != S.TYPE_QUALITATIVE, "指标编号"]
    wb = load_workbook(BUNDLED_TARGETS)
    sheet = wb.create_sheet(S.SHEET_SCHEDULE)
    sheet.append(["指标编号"] + [f"{m}月" for m in range(1, 13)])
    for code in quantitative:
        sheet.append([code] + [round(100 * (m / 12) ** 2, 1) for m in range(1, 13)])  # 6 月: 25 %, not 50 %
    buffer = io.BytesIO()
    wb.save(buffer)
    assert store.replace_targets(buffer.getvalue(), "测试") == []
    scheduled = store.targets()
    assert planned_share(6, quantitative.iloc[0], scheduled.schedule) == 0.25
    rows = store.current_rows()
    expected = P.city_table(scheduled, rows, 6)["差距"].iloc[0]
    by_month = P.city_table(plain, rows, 6)["差距"].iloc[0]
    assert expected - by_month > 20  # the schedule asks for half as much by June: the gap is far smaller
    at = open_page("pages/overview.py")
    delta = next(m for m in at.metric if m.label == "平均完成率").proto.delta
    assert delta.startswith(f"{expected:+.1f} "), (delta, expected, by_month)


def test_overview_reasons_stay_inside_the_chosen_counties(on_demo):
    at = open_page("pages/overview.py", query={"county": "任城区"})
    reasons = [line for t in at.text for line in t.value.splitlines() if line.startswith("· ")]  # one st.text a project
    assert reasons and all(r.startswith(("· 任城区：", f"· {S.CITY}：")) for r in reasons)


def test_project_history_honours_the_county_filter(on_demo):
    at = open_page("pages/project.py", query={"project": "1", "county": "任城区"})
    history = next(d.value for d in at.dataframe if "下步计划" in d.value.columns)
    assert len(history) and set(history["县市区"]) <= {"任城区", S.CITY}


def test_clicked_category_and_split_indicator_are_in_the_url(on_demo):
    at = open_page("pages/category.py", query={"pick": "教育服务"})
    assert at.selectbox(key="category_pick_box").value == "教育服务"
    assert set(next(d.value for d in at.dataframe if "类别" in d.value.columns)["类别"]) == {"教育服务"}
    at.selectbox(key="category_pick_box").set_value("安全").run()
    assert at.query_params["pick"] in ("安全", ["安全"])
    at = open_page("pages/project.py", query={"project": "1"})
    codes = at.selectbox(key="project_split_pick").options
    at = open_page("pages/project.py", query={"project": "1", "indicator": codes[-1].split(" ")[0]})
    assert at.selectbox(key="project_split_pick").value == codes[-1].split(" ")[0]
    assert at.query_params["indicator"] in (codes[-1].split(" ")[0], [codes[-1].split(" ")[0]])


@pytest.mark.parametrize("page", VIEW_PAGES, ids=[p.split("/")[1][:-3] for p in VIEW_PAGES])
def test_no_displayed_frame_shows_none_or_nan(on_demo, page):
    at = open_page(page, query={"project": "5"})  # project 5 has only qualitative indicators
    for frame in list(at.dataframe) + list(at.table):
        value = frame.value
        text = value.astype(str)
        assert not text.isin(["None", "nan", "NaN", "<NA>", "NaT"]).any().any() or frame.proto.placeholder == "—", page
        assert not any(str(c).startswith("Unnamed") for c in value.columns)
    assert "None" not in " ".join(m.body for m in at.markdown) and "nan" not in " ".join(m.body for m in at.markdown)


def test_qualitative_project_reads_in_words(on_demo):
    at = open_page("pages/project.py", query={"project": "5"})
    line = " ".join(m.body for m in at.markdown)
    assert "定性项目，按填报单位报告的进展状态" in line and "—（—）" not in line
    assert any("单位报告的进展状态" in d.value.columns for d in at.dataframe)


def test_sidebar_versions_only_for_admins_and_plain_placeholders(on_demo):
    at = open_page("pages/overview.py")  # open demo mode: the demo user is an administrator
    assert any("目标表版本" in c.body for c in at.sidebar.caption)
    for key in ("f_category", "f_unit", "f_county", "f_status"):
        assert at.multiselect(key=key).proto.select_all == 0  # no English "Select all" / "Select 2 matches"


@both_backends("on_demo")
def test_times_on_screen_read_as_a_person_writes_them(on_demo):
    """The audit log and the upload history show '2024-07-08 09:15', not the stored '2024-07-08T09:15:02.123'."""
    for page, column in (("pages/admin.py", "时间"), ("pages/upload.py", "接收时间")):
        at = open_page(page)
        frame = next(d.value for d in at.dataframe if column in d.value.columns)
        assert len(frame) and frame[column].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d").all(), (page, frame[column].head())
