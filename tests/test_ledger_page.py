"""The 督办台账 page through AppTest: candidates from the demo, bulk confirm, a new item, follow-up, closure;
the project page's open items and the overview's counts."""

from __future__ import annotations

from datetime import date, timedelta

from streamlit.testing.v1 import AppTest

from lib import auth, ledger
from lib.auth import ANALYST
from lib.store import Store
from tests.conftest import both_backends
from tests.test_pages import APP, open_page

ACTOR = ledger.Actor("李科员", ANALYST)


def frame_with(at, *columns):
    """The first table showing these columns (display-only tables carry no key in AppTest)."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def picker(at):
    """The 选择事项 box (its key changes whenever the page opens an item by itself)."""
    return next(s for s in at.selectbox if s.label == "选择事项")


def texts(at) -> str:
    return " ".join([m.body for m in at.markdown] + [c.body for c in at.caption] + [t.value for t in at.text])


def test_demo_candidates_are_listed_and_filtered(demo_copy):
    at = open_page("pages/ledger.py")
    table = at.dataframe(key="ledger_table").value
    assert len(table) > 100 and set(table["状态"]) == {ledger.CANDIDATE}  # the demo's 存在问题 cells, not yet confirmed
    at.multiselect(key="ledger_project").set_value([9]).run()
    table = at.dataframe(key="ledger_table").value
    assert len(table) and set(table["项目"]) == {"9. 新增公办幼儿园学位6000个"}
    at.multiselect(key="ledger_county").set_value(["任城区"]).run()
    assert set(at.dataframe(key="ledger_table").value["县市区"]) == {"任城区"}
    at.toggle(key="ledger_overdue").set_value(True).run()
    assert not at.exception and any("没有督办事项" in i.body for i in at.info)  # candidates are never overdue


@both_backends("demo_copy")
def test_bulk_confirm_then_follow_up_and_close(demo_copy):
    at = open_page("pages/ledger.py")
    at.multiselect(key="ledger_project").set_value([9]).run()
    n = len(at.dataframe(key="ledger_table").value)
    at.radio(key="ledger_bulk_scope").set_value("当前筛选结果中的全部待确认问题").run()
    due = date.today() + timedelta(days=10)
    at.date_input(key="ledger_bulk_due").set_value(due).run()
    at.button(key="ledger_bulk_confirm").click().run()
    assert not at.exception
    store = Store(demo_copy)
    items = ledger.items(store, store.targets())
    mine = items[items["项目序号"] == 9]
    assert len(mine) == n and set(mine["状态"]) == {ledger.TODO} and set(mine["办结时限"]) == {due.isoformat()}
    assert set(at.dataframe(key="ledger_table").value["状态"]) == {ledger.TODO}

    item_id = picker(at).value
    at.text_input(key="ledger_follow_text").set_value("已约谈县教育局，6月底前完成选址").run()
    at.button(key="ledger_follow_add").click().run()
    assert not at.exception
    log = frame_with(at, "类型", "人员", "内容")
    assert log["内容"][0] == "已约谈县教育局，6月底前完成选址" and log["人员"][0] == "演示用户"
    at.selectbox(key=f"ledger_status_to_{ledger.TODO}").set_value(ledger.DONE).run()
    at.button(key="ledger_status_set").click().run()
    assert not at.exception
    row = ledger.items(store, store.targets()).set_index("编号").loc[item_id]
    assert row["状态"] == ledger.DONE and row["办结日期"] == date.today().isoformat()
    assert "台账状态" in set(store.audit_log()["操作"])


def test_dismiss_needs_a_reason(demo_copy):
    at = open_page("pages/ledger.py")
    item_id = picker(at).value
    at.selectbox(key=f"ledger_status_to_{ledger.CANDIDATE}").set_value(ledger.DISMISSED).run()
    at.button(key="ledger_status_set").click().run()
    assert any("理由" in e.body for e in at.error)
    store = Store(demo_copy)
    assert ledger.items(store, store.targets()).set_index("编号").at[item_id, "状态"] == ledger.CANDIDATE


def test_a_new_item_by_hand_with_the_lead_unit_as_default(demo_copy):
    at = open_page("pages/ledger.py")
    assert "ledger_new_save" not in {b.key for b in at.button}  # the form is drawn only while its expander is open
    at.session_state["ledger_new_open"] = True  # the analyst opens it
    at.run()
    at.selectbox(key="ledger_new_project").set_value(12).run()
    assert at.selectbox(key="ledger_new_responsible_12").value == "市能源局"
    at.radio(key="ledger_new_source").set_value(ledger.SOURCE_MEETING).run()
    at.text_input(key="ledger_new_detail").set_value("6月民生实事调度会").run()
    at.text_area(key="ledger_new_text").set_value("充电桩电力增容审批慢，需供电公司配合").run()
    at.button(key="ledger_new_save").click().run()
    assert not at.exception
    store = Store(demo_copy)
    items = ledger.items(store, store.targets())
    new = items[items["来源"] == ledger.SOURCE_MEETING].iloc[0]
    assert new["责任单位"] == "市能源局" and new["状态"] == ledger.TODO and new["来源说明"] == "6月民生实事调度会"
    assert picker(at).value == new["编号"]  # the page shows what was just created
    assert at.text_area(key="ledger_new_text").value == ""  # the form is empty again


def test_project_page_lists_open_items_and_overview_counts(demo_copy):
    store = Store(demo_copy)
    targets = store.targets()
    ledger.sync(store, targets)
    late = ledger.create_item(store, targets, ACTOR, project=26, description="体育公园围挡破损", county="任城区",
                              source=ledger.SOURCE_INSPECTION, raised_on=date.today() - timedelta(days=40),
                              due=date.today() - timedelta(days=5))
    at = open_page("pages/project.py", query={"project": "26"})
    table = frame_with(at, "编号", "逾期", "问题描述")
    assert late in set(table["编号"]) and set(table["状态"]) <= set(ledger.OPEN_STATES)
    assert table.set_index("编号").at[late, "逾期"] == "5 天"
    assert "逾期 1 项" in texts(at)
    at = open_page("pages/overview.py")
    html = texts(at)
    assert "逾期未办结" in html and "本月办结" in html and ">1<span" in html.replace(" ", "")


def test_hostile_problem_text_stays_text(demo_copy):
    store = Store(demo_copy)
    targets = store.targets()
    hostile = "<script>alert('x')</script> **粗体** <img src=x onerror=alert(1)>"
    item_id = ledger.create_item(store, targets, ACTOR, project=26, description=hostile, source=ledger.SOURCE_MEETING,
                                 source_detail="<b>会</b>")
    at = open_page("pages/ledger.py", query={"item": str(item_id)})
    assert picker(at).value == item_id
    markup = " ".join(m.body for m in at.markdown)
    assert "<script>" not in markup and "onerror" not in markup and "<b>会</b>" not in markup
    assert hostile in [t.value for t in at.text]


def test_a_unit_user_acts_only_on_its_own_items(demo_copy):
    from tests.test_auth import USERS  # mz: 民政局填报员, role unit, bound to 市民政局
    store = Store(demo_copy)
    targets = store.targets()
    own = ledger.create_item(store, targets, ACTOR, project=1, description="适老化改造施工队伍不足",
                             source=ledger.SOURCE_INSPECTION)  # project 1: lead unit 市民政局
    theirs = ledger.create_item(store, targets, ACTOR, project=26, description="体育公园围挡破损",
                                source=ledger.SOURCE_INSPECTION)  # 市体育局
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = USERS["auth"]
    at.session_state["auth_user"] = auth.User("mz", "民政局填报员", auth.UNIT, "市民政局")
    at.session_state["ledger_new_open"] = at.session_state["ledger_edit_open"] = True  # as if the forms were opened
    at.run()
    at.switch_page("pages/ledger.py").run()
    assert not at.exception
    assert at.multiselect(key="ledger_unit").value == ["市民政局"]  # starts on its own items
    keys = {b.key for b in at.button}
    assert not keys & {"ledger_bulk_confirm", "ledger_new_save", "ledger_status_set", "ledger_split"}  # analysts only

    picker(at).set_value(own).run()
    at.text_input(key="ledger_follow_text").set_value("已增派两支施工队").run()
    at.button(key="ledger_follow_add").click().run()
    at.text_input(key="ledger_request_text").set_value("施工队伍已到位，改造按期推进").run()
    at.button(key="ledger_request").click().run()
    assert not at.exception
    row = ledger.items(store, targets).set_index("编号").loc[own]
    assert row["状态"] == ledger.TODO and row["申请办结"] == "民政局填报员"  # closure waits for an analyst
    assert ledger.follow_ups(store, own)["人员"].tolist() == ["民政局填报员", "民政局填报员"]

    at.multiselect(key="ledger_unit").set_value([]).run()
    picker(at).set_value(theirs).run()
    assert not at.exception
    assert not {"ledger_follow_add", "ledger_request"} & {b.key for b in at.button}  # another unit's item: read only
    assert ledger.follow_ups(store, theirs).empty
