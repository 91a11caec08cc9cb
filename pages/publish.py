"""发布与修订: publish the chosen month (official figures, frozen), its revisions, what changed since publication."""

from datetime import datetime

import pandas as pd
import streamlit as st

import ui
from lib import publish as PB
from lib.auth import ANALYST
from lib.calendar import deadline
from lib.export import export_filename, to_csv_bytes
from lib.formatting import fmt_number

shown = ui.frame()  # the figures the switch shows: the revision to compare with, when one is chosen
folder, version, bundle, f = ui.live_frame()  # publishing and the comparison work on the live state
store = ui.store()
t = bundle.targets
user = ui.user()

ui.page_start(f"发布与修订 · {t.year} 年 {f.month} 月", ignored=dict.fromkeys(("类别", "牵头单位", "县市区", "状态"), "发布（一次发布冻结该月全部项目）"))
st.caption("发布后的数字即为该月正式数字：冻结各单位当时的报送版本、目标表与各层级结果，之后的补报、更正和恢复都不会改变它。"
           "再次发布为新的修订，须写明原因；早先的修订一直可查。")

revisions = store.publications(t.year, f.month)
if revisions.empty:
    st.info(f"{t.year} 年 {f.month} 月尚未发布。", icon=":material/info:")
else:
    st.subheader("已发布修订")
    listing = pd.DataFrame({
        "修订": revisions["revision"].map(lambda n: f"修订 {n}"),
        "发布时间": revisions["published_at"].str.slice(0, 16).str.replace("T", " "),
        "发布人": revisions["published_by"],
        "数据时点": [a[:16].replace("T", " ") if a else "发布时" for a in revisions["as_of_time"]],
        "修订原因": revisions["reason"].replace("", "首次发布"),
        "内容哈希": revisions["content_hash"].str.slice(0, 16),
    })
    st.dataframe(listing, hide_index=True, key="publish_revisions")

if user.can(ANALYST):
    with st.container(border=True):
        next_revision = 0 if revisions.empty else int(revisions["revision"].max()) + 1
        st.markdown(f"**发布 {t.year} 年 {f.month} 月**" + (f"（将成为修订 {next_revision}）" if next_revision else ""))
        due = deadline(t.year, f.month, t.deadline_day)
        moments = {"now": "当前数据（实时）", "deadline": f"报送截止时的数据（{due:%Y-%m-%d %H:%M}）"}
        options = list(moments) if due < datetime.now() else ["now"]
        when = st.radio("发布哪一时点的数据", options, key="publish_when", format_func=moments.get, horizontal=True,
                        help="截止时的数据：按各报送的接收时间，还原截止时刻各单位的当前版本")
        reason = st.text_input("修订原因" + ("（必填）" if next_revision else "（可选）"), key="publish_reason",
                               placeholder="如：某单位更正 6 月数据，经领导同意重新发布" if next_revision else "")
        if st.button(f"发布 {t.year} 年 {f.month} 月", type="primary", key="publish_go", icon=":material/verified:"):
            who = ui.require(ANALYST).name
            try:
                live = ui.view()  # this month's live tables as the dashboard computed them: not computed twice
                pub = PB.publish(store, t.year, f.month, who, reason, due if when == "deadline" else None, targets=t,
                                 rows=bundle.rows, computed={name: getattr(live, name) for name in PB.LEVEL_OF_ROWS})
            except PB.PublishError as exc:
                st.error(f"未发布：{exc}")
            else:
                ui.show_published(pub.revision)
                st.toast(f"已发布：{pub.label()}")
                st.rerun()
else:
    st.caption("发布需要“填报管理”或“管理员”角色。")

st.subheader("发布以来的变化")
if revisions.empty:
    st.caption("发布后，这里列出已发布数字与实时数据之间的每一处差异（补报、更正、恢复版本的影响）。")
else:
    pub = shown.bundle.publication
    if pub is None or pub.month != f.month:
        latest = revisions.iloc[-1]
        pub_version = f"{ui.PUBLISHED_PREFIX}{int(latest['id'])}:{latest['content_hash'][:16]}"
    else:
        pub_version = ui.published_version(pub)
    compared = ui.load_bundle(folder, pub_version).publication
    changes = ui.changes_since_view(folder, version, pub_version)
    st.caption(f"比较：{compared.label()} ↔ 实时数据。每个指标 × 县市区一行；定性指标比较进展状态。")
    if changes.empty:
        st.success("发布以来没有任何数字变化。", icon=":material/check_circle:")
    else:
        def figure(value, unit):
            return value if isinstance(value, str) else fmt_number(value, unit)
        readable = changes.assign(**{col: [figure(v, u) for v, u in zip(changes[col], changes["计量单位"])]
                                     for col in ("已发布", "实时")})
        st.dataframe(readable.drop(columns=["计量单位"]), hide_index=True, key="publish_changes",
                     height="auto" if len(readable) <= 10 else 400)
    name = export_filename("发布以来的变化", f"{t.year}-{f.month:02d}", {"修订": str(compared.revision)}, "csv")
    st.download_button("下载变化表（CSV）", ui.logged_export(user.name, name, len(changes), lambda: to_csv_bytes(changes)),
                       file_name=name, key="publish_changes_csv", on_click="ignore", mime="text/csv",
                       icon=":material/download:")
