"""问题督办台账: candidates from real uploaded workbooks, matching, states, permissions, photos, CLI, rebuild."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from lib import auth, config, ledger
from lib import schema as S
from lib.ledger import Actor, LedgerError
from lib.store import Store
from tests.factory import filled, row_of

ROOT = Path(__file__).resolve().parent.parent
UNIT = "市体育局"  # reports project 26 (P26-1 split by county); also its lead unit
OTHER = "市民政局"
ANALYST = Actor("李科员", auth.ANALYST)
VIEWER = Actor("王领导", auth.VIEWER)
SPORTS = Actor("体育局填报员", ledger.UNIT, UNIT)
CIVIL = Actor("民政局填报员", ledger.UNIT, OTHER)


def report(store, targets, month: str, problems: dict, share: float = 0.3, unit: str = UNIT):
    """Upload one month's workbook of ``unit`` with 存在问题 texts at {(指标编号, 县市区): text}."""
    overrides = {key: {"存在问题": text, "下步计划": "加快推进"} for key, text in problems.items()}
    outcome = store.ingest(filled(targets, unit, month=month, share=share, overrides=overrides), f"{unit}{month}.xlsx",
                           targets=targets)
    assert outcome.stored, outcome.summary()
    return outcome


@pytest.fixture()
def store(data_dir, backend):
    return Store(data_dir)


def test_march_problem_reported_again_in_april_is_one_item_with_two_reports(store, targets):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "场地用地手续尚未办结，开工时间推迟。",
                                       ("P26-1", "曲阜市"): "无"})
    first = ledger.sync(store, targets)
    assert (first.submissions, first.new_items, first.attached) == (1, 1, 0)  # "无" is no problem
    report(store, targets, "2024-04", {("P26-1", "任城区"): "场地用地手续仍未办结，开工推迟。",
                                       ("P26-1", "兖州区"): "设备招标采购流程尚未完成。"}, share=0.4)
    second = ledger.sync(store, targets)
    assert (second.submissions, second.new_items, second.attached) == (1, 1, 1)

    frame = ledger.items(store, targets)
    assert len(frame) == 2 and set(frame["状态"]) == {ledger.CANDIDATE}
    item = frame[frame["县市区"] == "任城区"].iloc[0]
    assert item["报送次数"] == 2 and item["项目序号"] == 26 and item["指标编号"] == "P26-1"
    assert item["问题描述"] == "场地用地手续尚未办结，开工时间推迟。" and item["责任单位"] == UNIT
    assert item["提出日期"] == date.today().isoformat()
    assert item["来源说明"] == f"{UNIT} 2024年3月 L{row_of(targets, UNIT, 'P26-1', '任城区')}"
    reports = ledger.reports(store, int(item["编号"]))
    assert list(reports["月份"]) == ["2024-03", "2024-04"]
    assert pd.isna(reports["相似度"][0]) and reports["相似度"][1] >= ledger.MATCH_THRESHOLD  # the match is shown
    assert reports["匹配文本"][1] == "场地用地手续尚未办结，开工时间推迟。"
    assert reports["报送编号"].notna().all()

    again = ledger.sync(store, targets)  # idempotent
    assert again.submissions == 0 and len(ledger.items(store, targets)) == 2


def test_a_wrong_match_can_be_split_off(store, targets):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "资金拨付滞后，项目开工推迟。"})
    report(store, targets, "2024-04", {("P26-1", "任城区"): "资金拨付滞后，影响设备采购。"}, share=0.4)
    ledger.sync(store, targets)
    [item_id] = ledger.items(store, targets)["编号"]
    second = ledger.reports(store, item_id)["报送记录"][1]
    with pytest.raises(LedgerError):
        ledger.split_report(store, second, SPORTS)
    new_id = ledger.split_report(store, second, ANALYST)
    frame = ledger.items(store, targets).set_index("编号")
    assert frame.at[new_id, "状态"] == ledger.CANDIDATE and frame.at[new_id, "问题描述"] == "资金拨付滞后，影响设备采购。"
    assert frame.at[item_id, "报送次数"] == 1 and frame.at[new_id, "报送次数"] == 1
    with pytest.raises(LedgerError, match="唯一"):
        ledger.split_report(store, ledger.reports(store, new_id)["报送记录"][0], ANALYST)


def test_a_corrected_version_of_the_month_updates_its_report(store, targets):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "资金拨付滞后。"})
    ledger.sync(store, targets)
    report(store, targets, "2024-03", {("P26-1", "任城区"): "资金拨付滞后，已协调财政局。"}, share=0.31)
    result = ledger.sync(store, targets)
    assert (result.new_items, result.attached, result.corrected) == (0, 0, 1)
    frame = ledger.items(store, targets)
    assert len(frame) == 1 and frame["问题描述"][0] == "资金拨付滞后，已协调财政局。" and frame["报送次数"][0] == 1


def test_a_closed_problem_that_comes_back_is_a_new_candidate(store, targets):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "资金拨付滞后。"})
    ledger.sync(store, targets)
    [item_id] = ledger.items(store, targets)["编号"]
    ledger.confirm(store, [item_id], ANALYST)
    ledger.set_status(store, item_id, ledger.DONE, ANALYST, "资金已拨付")
    report(store, targets, "2024-04", {("P26-1", "任城区"): "资金拨付滞后。"}, share=0.4)
    assert ledger.sync(store, targets).new_items == 1


def test_similarity_and_placeholders():
    assert ledger.similarity("用地、规划等前期手续办理周期较长。", "用地规划前期手续仍在办理中，周期较长") >= ledger.MATCH_THRESHOLD
    assert ledger.similarity("施工受雨季影响，工期有所延误。", "设备招标采购流程尚未完成。") < ledger.MATCH_THRESHOLD
    assert ledger.similarity("资金", "资金") == 1.0
    assert not any(map(ledger.is_problem, ["", " ", "无", "无。", "暂无", " 无问题 ", "／", "-"]))
    assert ledger.is_problem("无法按期开工")


def manual(store, targets, due: date | None = None, responsible: str = UNIT, **kw) -> int:
    return ledger.create_item(store, targets, ANALYST, project=26, description="体育公园围挡破损，存在安全隐患",
                              source=ledger.SOURCE_INSPECTION, raised_on=date(2024, 5, 6), due=due,
                              responsible=responsible, county="任城区", indicator="P26-1", **kw)


def test_closing_needs_an_analyst(store, targets):
    item_id = manual(store, targets, due=date(2024, 6, 30))
    ledger.add_follow_up(store, item_id, SPORTS, "已联系施工单位修复围挡", on=date(2024, 5, 10))
    ledger.request_closure(store, item_id, SPORTS, "围挡已修复，附照片")
    for actor in (SPORTS, VIEWER):
        with pytest.raises(LedgerError):
            ledger.set_status(store, item_id, ledger.DONE, actor)
    row = ledger.items(store, targets).set_index("编号").loc[item_id]
    assert row["状态"] == ledger.TODO and row["申请办结"] == SPORTS.name  # still open: waiting for the analyst
    ledger.set_status(store, item_id, ledger.DONE, ANALYST, "现场核实已修复")
    row = ledger.items(store, targets).set_index("编号").loc[item_id]
    assert row["状态"] == ledger.DONE and row["办结日期"] == date.today().isoformat() and row["申请办结"] == ""
    log = ledger.follow_ups(store, item_id)
    assert list(log["类型"]) == [ledger.STATUS_CHANGE, ledger.CLOSURE_REQUEST, ledger.FOLLOW_UP]
    assert log["人员"].tolist()[-1] == SPORTS.name and log["日期"].tolist()[-1] == "2024-05-10"
    with pytest.raises(LedgerError, match="重新打开"):
        ledger.add_follow_up(store, item_id, ANALYST, "再看看")
    with pytest.raises(LedgerError, match="理由"):
        ledger.set_status(store, item_id, ledger.TODO, ANALYST)
    ledger.set_status(store, item_id, ledger.TODO, ANALYST, "群众反映围挡再次破损")
    assert ledger.items(store, targets)["办结日期"][0] == ""


def test_states_follow_the_transitions(store, targets):
    item_id = manual(store, targets)
    with pytest.raises(LedgerError, match="不能改为"):
        ledger.set_status(store, item_id, ledger.CANDIDATE, ANALYST)
    with pytest.raises(LedgerError, match="理由"):
        ledger.set_status(store, item_id, ledger.DISMISSED, ANALYST)
    ledger.set_status(store, item_id, ledger.COORDINATING, ANALYST, "请住建局配合")
    assert ledger.dismiss(store, [item_id], ANALYST, "属于施工单位自身管理问题") == 1
    row = ledger.items(store, targets).iloc[0]
    assert row["状态"] == ledger.DISMISSED and row["理由"] == "属于施工单位自身管理问题"


def test_bulk_confirm_sets_a_due_date(store, targets):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "资金拨付滞后。", ("P26-1", "兖州区"): "选址反复。"})
    ledger.sync(store, targets)
    manual_id = manual(store, targets)
    ids = ledger.items(store, targets)["编号"].tolist()
    with pytest.raises(LedgerError):
        ledger.confirm(store, ids, SPORTS)
    assert ledger.confirm(store, ids, ANALYST, today=date(2024, 4, 8)) == 2  # the manual item is already confirmed
    frame = ledger.items(store, targets).set_index("编号")
    candidates = frame.drop(index=manual_id)
    assert set(candidates["状态"]) == {ledger.TODO}
    assert set(candidates["办结时限"]) == {(date(2024, 4, 8) + timedelta(days=ledger.DEFAULT_DUE_DAYS)).isoformat()}


def test_an_overdue_item_is_flagged(store, targets):
    late = manual(store, targets, due=date(2024, 6, 30))
    in_time = manual(store, targets, due=date(2024, 8, 31))
    closed = manual(store, targets, due=date(2024, 6, 1))
    ledger.set_status(store, closed, ledger.DONE, ANALYST)
    frame = ledger.items(store, targets, today=date(2024, 7, 10)).set_index("编号")
    assert frame.at[late, "逾期"] and frame.at[late, "逾期天数"] == 10
    assert not frame.at[in_time, "逾期"] and not frame.at[closed, "逾期"]  # a closed item is never overdue
    assert list(frame.index) == [late, in_time, closed]  # overdue first, closed last
    exported = ledger.export_frame(frame.reset_index()).set_index("编号")
    assert exported.at[late, "逾期"] == "是（10 天）" and exported.at[in_time, "逾期"] == "否"
    assert ledger.counts(frame, today=date(2024, 7, 10))["逾期"] == 1
    assert ledger.ItemFilter(overdue_only=True).apply(frame.reset_index())["编号"].tolist() == [late]


def test_a_unit_user_cannot_touch_another_units_items(store, targets):
    own = manual(store, targets)
    theirs = manual(store, targets, responsible=OTHER)
    coordinated = manual(store, targets, responsible=OTHER, coordinating=[UNIT, "市财政局"])
    with pytest.raises(LedgerError, match="无权"):
        ledger.add_follow_up(store, theirs, SPORTS, "我来跟进")
    with pytest.raises(LedgerError, match="无权"):
        ledger.request_closure(store, theirs, SPORTS, "已解决")
    with pytest.raises(LedgerError, match="无权"):
        ledger.add_follow_up(store, own, CIVIL, "越权")
    with pytest.raises(LedgerError, match="无权"):
        ledger.update_item(store, own, SPORTS, due=date(2025, 1, 1))
    with pytest.raises(LedgerError, match="无权"):
        ledger.create_item(store, targets, SPORTS, project=26, description="x", source=ledger.SOURCE_MEETING)
    ledger.add_follow_up(store, own, SPORTS, "本单位跟进")
    ledger.add_follow_up(store, coordinated, SPORTS, "协办单位也可报进展")
    with pytest.raises(LedgerError):
        ledger.request_closure(store, coordinated, SPORTS, "只有责任单位能申请办结")
    ledger.add_follow_up(store, theirs, CIVIL, "民政局跟进")
    assert len(ledger.follow_ups(store, theirs)) == 1 and ledger.follow_ups(store, theirs)["人员"][0] == CIVIL.name
    assert len(ledger.follow_ups(store, own)) == 1


@pytest.mark.parametrize("role, unit, responsible, coordinating, follow, close", [
    (auth.ANALYST, None, UNIT, "", True, False),
    (auth.ADMIN, None, UNIT, "", True, False),
    (auth.VIEWER, None, UNIT, "", False, False),
    (ledger.UNIT, UNIT, UNIT, "", True, True),
    (ledger.UNIT, UNIT, OTHER, f"市财政局、{UNIT}", True, False),
    (ledger.UNIT, OTHER, UNIT, "", False, False),
    (ledger.UNIT, None, UNIT, "", False, False),  # a unit user without a bound unit: fail closed
    ("stranger", UNIT, UNIT, "", False, False),  # an unknown role: fail closed
])
def test_permission_rules(role, unit, responsible, coordinating, follow, close):
    assert ledger.may_follow_up(role, unit, responsible, coordinating) is follow
    assert ledger.may_request_closure(role, unit, responsible, ledger.TODO) is close
    assert not ledger.may_request_closure(role, unit, responsible, ledger.CANDIDATE)
    assert ledger.may_manage(role) is (role in (auth.ANALYST, auth.ADMIN))


def test_who_may_manage_the_ledger_is_the_one_role_rule_of_auth():
    """may_manage asks lib/auth.py (User.can's rule), so a change of the role order changes both at once."""
    for role in auth.RANK:
        user = auth.User("x", "某人", role, "市民政局" if role == auth.UNIT else None)
        assert ledger.may_manage(role) is user.can(auth.ANALYST) is auth.role_at_least(role, auth.ANALYST)
    assert not ledger.may_manage("") and not ledger.may_manage("Admin")  # unknown roles: fail closed


def png(size=(64, 48), mode="RGB", fmt="PNG", exif: bool = False) -> bytes:
    buffer = io.BytesIO()
    image = Image.new(mode, size, "red" if mode == "RGB" else None)
    kwargs = {}
    if exif:
        info = Image.Exif()
        info[0x0112] = 6  # rotated: the stored picture is turned upright
        info[0x010F] = "PhoneMaker"
        kwargs["exif"] = info.tobytes()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_photos_are_re_encoded(store, targets):
    item_id = manual(store, targets, photos=[("现场.png", png(mode="RGBA")), ("现场2.JPG", png(fmt="JPEG", exif=True))])
    stored = ledger.photos(store, item_id)
    assert [name for name, _ in stored] == ["现场.jpg", "现场2.jpg"]
    for _, data in stored:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and not image.getexif()  # metadata (maker, GPS) dropped
    with Image.open(io.BytesIO(stored[1][1])) as image:
        assert image.size == (48, 64)  # turned upright by its EXIF orientation
    big = ledger.prepare_photo("大.png", png(size=(4000, 3000)))
    assert max(big.width, big.height) == config.PHOTO_EDGE


@pytest.mark.parametrize("name, data, message", [
    ("报告.pdf", b"%PDF-1.7 not a photo", "不是 PNG 或 JPG 文件"),
    ("假照片.jpg", b"MZ\x90\x00 this is an executable", "无法作为图片读取"),
    ("动图.gif", png(fmt="GIF"), "不是 PNG 或 JPG 文件"),
    ("改名.png", png(fmt="GIF"), "GIF 格式"),
    ("截断.png", png()[:60], "无法作为图片读取"),
])
def test_photos_that_are_not_images_are_refused(store, targets, name, data, message):
    with pytest.raises(LedgerError, match=message) as refused:
        manual(store, targets, photos=[("好.png", png()), (name, data)])
    assert name in str(refused.value)
    assert ledger.items(store, targets).empty  # nothing stored: not the item, not the good photo


def test_photos_too_large_are_refused(store, targets, monkeypatch):
    item_id = manual(store, targets)
    monkeypatch.setattr(config, "MAX_PHOTO_BYTES", 1000)
    with pytest.raises(LedgerError, match="超过"):
        ledger.add_photos(store, item_id, ANALYST, [("大.png", png(size=(400, 400)) + b"\0" * 2000)])
    monkeypatch.setattr(config, "MAX_PHOTO_BYTES", 8 * 1024 * 1024)
    monkeypatch.setattr(config, "MAX_PHOTO_PIXELS", 100 * 100)
    with pytest.raises(LedgerError, match="像素过大"):
        ledger.add_photos(store, item_id, ANALYST, [("宽.png", png(size=(200, 200)))])
    assert ledger.photos(store, item_id) == []
    with pytest.raises(LedgerError, match="无权"):
        ledger.add_photos(store, item_id, SPORTS, [("小.png", png())])


def test_manual_items_are_checked(store, targets):
    with pytest.raises(LedgerError, match="不属于项目"):
        ledger.create_item(store, targets, ANALYST, project=26, indicator="P01-1", description="x",
                           source=ledger.SOURCE_MEETING)
    with pytest.raises(LedgerError, match="早于"):
        ledger.create_item(store, targets, ANALYST, project=26, description="x", source=ledger.SOURCE_MEETING,
                           raised_on=date(2024, 5, 1), due=date(2024, 4, 1))
    with pytest.raises(LedgerError, match="问题描述"):
        ledger.create_item(store, targets, ANALYST, project=26, description="  ", source=ledger.SOURCE_MEETING)
    item_id = ledger.create_item(store, targets, ANALYST, project=12, description="充电桩电力增容审批慢",
                                 source=ledger.SOURCE_MEETING, source_detail="6月民生实事调度会")
    row = ledger.items(store, targets).iloc[0]
    assert row["编号"] == item_id and row["责任单位"] == "市能源局"  # default: the project's lead unit
    assert row["状态"] == ledger.TODO and row["指标编号"] == "" and row["县市区"] == ""
    assert ledger.update_item(store, item_id, ANALYST, due=date(2024, 7, 31), coordinating=["国网济宁供电公司"]) == \
        ["办结时限", "协调单位"]
    assert ledger.update_item(store, item_id, ANALYST, due=date(2024, 7, 31)) == []


def test_every_change_is_in_the_audit_log(store, targets):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "资金拨付滞后。"})
    ledger.sync(store, targets)
    item_id = manual(store, targets, photos=[("a.png", png())])
    ledger.add_follow_up(store, item_id, SPORTS, "已修复")
    ledger.request_closure(store, item_id, SPORTS, "已修复")
    ledger.decline_closure(store, item_id, ANALYST, "请补充照片")
    ledger.update_item(store, item_id, ANALYST, due=date(2024, 9, 1))
    ledger.set_status(store, item_id, ledger.DONE, ANALYST)
    actions = store.audit_log()["操作"].tolist()
    for action in ("台账同步", "台账新增候选", "台账新增", "台账跟进", "台账申请办结", "台账退回办结", "台账修改", "台账状态"):
        assert action in actions, action


def test_ledger_survives_rebuild_and_is_in_the_backup(store, targets, tmp_path):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "资金拨付滞后。"})
    ledger.sync(store, targets)
    item_id = manual(store, targets, photos=[("a.png", png())])
    ledger.add_follow_up(store, item_id, ANALYST, "约谈施工方")
    before = ledger.items(store, targets)
    assert store.rebuild() == 1
    after = ledger.items(store, targets)
    pd.testing.assert_frame_equal(before.drop(columns="报送次数"), after.drop(columns="报送次数"))
    assert ledger.sync(store, targets).submissions == 0  # seen by sha256: ids changed, nothing is read twice
    assert ledger.reports(store, int(after["编号"][after["来源"] == ledger.SOURCE_REPORT].iloc[0]))["报送编号"].notna().all()
    if not store.db_path:
        return  # PostgreSQL: the database is backed up with pg_dump (Store.backup says so)
    copy = store.backup(tmp_path / "backup")
    restored = Store(copy)
    pd.testing.assert_frame_equal(ledger.items(restored, targets), after)
    assert len(ledger.photos(restored, item_id)) == 1 and len(ledger.follow_ups(restored, item_id)) == 1
    assert len(restored.submissions()) == 1
    with pytest.raises(FileExistsError):
        store.backup(copy)


def test_narrative_history_is_the_reporting_units(store, targets):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "资金拨付滞后。"})
    report(store, targets, "2024-04", {("P26-1", "兖州区"): "选址反复。"}, share=0.4)
    ledger.sync(store, targets)
    item = ledger.items(store, targets).iloc[0]
    history = ledger.narrative_history(targets, store.current_rows(), item, store)
    assert list(history["月份"].unique()) == [4, 3] and set(history["填报单位"]) == {UNIT}
    assert {"资金拨付滞后。", "选址反复。"} <= set(history["存在问题"]) and set(history["下步计划"]) == {"加快推进"}


def run_cli(data_dir, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib.ledger", *args], cwd=ROOT, capture_output=True, timeout=120,
                          env=dict(os.environ, LIVELIHOOD_DATA_DIR=str(data_dir)))


def cli(capsysbinary, *args) -> tuple[int, bytes, bytes]:
    """``python -m lib.ledger ARGS`` in this process (the data folder and backend from the environment, as the
    command reads them): exit code, stdout, stderr. ``run_cli`` runs the command itself once per test."""
    capsysbinary.readouterr()
    code = ledger.main(list(args))
    out, err = capsysbinary.readouterr()
    return code, out, err


def test_cli_sync_and_export(store, targets, data_dir, capsysbinary):
    report(store, targets, "2024-03", {("P26-1", "任城区"): "-资金拨付滞后。", ("P26-1", "兖州区"): "选址反复。"})
    synced = run_cli(data_dir, "sync")  # the command itself, in its own process
    assert synced.returncode == 0 and "新增待确认问题 2 条" in synced.stdout.decode()
    assert "新增待确认问题 0 条" in cli(capsysbinary, "sync")[1].decode()  # idempotent
    manual(store, targets, due=date(2024, 6, 30))

    code, everything, _ = cli(capsysbinary, "export")
    assert code == 0 and everything.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(io.BytesIO(everything), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame.columns) == ledger.EXPORT_COLUMNS
    assert len(frame) == 3 and (frame["状态"] == ledger.CANDIDATE).sum() == 2  # candidates listed, marked
    assert "'-资金拨付滞后。" in set(frame["问题描述"])  # formula text neutralised
    assert set(frame["来源"]) >= {f"单位报送（{UNIT} 2024年3月 L{row_of(targets, UNIT, 'P26-1', '任城区')}）"}
    assert "\r\n" in everything.decode("utf-8-sig")

    code, active, _ = cli(capsysbinary, "export", "--status", "待处理,协调中")
    frame = pd.read_csv(io.BytesIO(active), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert code == 0 and list(frame["状态"]) == [ledger.TODO] and frame["逾期"][0].startswith("是")
    code, _, err = cli(capsysbinary, "export", "--status", "进行中")
    assert code == 2 and "未知状态" in err.decode()


def test_the_store_cli_backs_up(store, targets, data_dir, tmp_path):
    if not store.db_path:
        pytest.skip("PostgreSQL is backed up with pg_dump")
    manual(store, targets)
    done = subprocess.run([sys.executable, "-m", "lib.store", "backup", str(tmp_path / "b")], cwd=ROOT, timeout=120,
                          capture_output=True, env=dict(os.environ, LIVELIHOOD_DATA_DIR=str(data_dir)))
    assert done.returncode == 0, done.stderr.decode()
    assert len(ledger.items(Store(tmp_path / "b"), targets)) == 1
    assert (tmp_path / "b" / "targets.xlsx").exists() and S.CITY  # the whole folder, not just the database
