"""One-off transcription of 济政发〔2024〕2号 into data/targets.xlsx.

The document (data/source/jining_2024_notice.txt, a PDF extraction) was read
line by line and transcribed below. The bundled data/targets.xlsx is this
script's output, and a test regenerates it and compares sheet by sheet, so
change this file and rerun it rather than editing the bundled workbook. (An
office's own copy in its data folder is edited in Excel; it is not checked
against this file.) Each indicator carries the phrase of the document it comes
from (原文), quoted with whitespace removed; its figure and its 目标口径 (约, 以上,
不少于, 不低于, 不高于, 左右, or blank for the figure itself) are read from that
phrase, and tests check every phrase, figure and qualifier against the document.

Convention for units: 年度目标 is stored in the base unit, never in 万
(6.1 万人 -> 61000 人, 1.6 万台 -> 16000 台); percentages are stored as the
number written, with 计量单位 "%" (62% -> 62).

Run: python scripts/build_targets_2024.py [OUT.xlsx]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib import schema as S  # noqa: E402

DOCUMENT = ROOT / "data" / "source" / "jining_2024_notice.txt"

CATEGORIES = {
    "老年人保障": [1, 2, 3, 4],
    "优生优育": [5, 6],
    "教育服务": [7, 8, 9],
    "交通出行": [10, 11, 12],
    "社区服务": [13, 14],
    "文化服务": [15, 16],
    "医疗健康": [17, 18, 19],
    "群众就业": [20, 21],
    "困难群众救助": [22, 23],
    "儿童守护": [24],
    "城市功能提升": [25],
    "体育运动": [26],
    "农村供水保障": [27],
    "安全": [28, 29, 30],
}

A = S.ALL_COUNTIES
# (序号, 项目名称, content start phrase, content end phrase, units in document order)
PROJECTS = [
    (1, "改造2000户困难老年人家庭设施", "2024年计划免费对2000户", "方便失能经济困难老年人生活。", ["市民政局", A]),
    (2, "为8200名独居老人安装火灾探测报警器", "2024年计划免费为8200名", "提升独居老人安全保障能力。", ["市消防救援支队", "市民政局", A]),
    (3, "建设200处老年人食堂", "2024年新建200处", "缓解老年群体用餐难问题。", ["市民政局", A]),
    (4, "增加社区养老服务设施200处", "2024年计划增加提升", "持续提升养老服务质量和水平。", ["市民政局", A]),
    (5, "免费开展孕妇外周血胎儿游离DNA产前筛查和产前诊断", "按照“应检尽检", "提高出生人口健康水平。", ["市卫生健康委", A]),
    (6, "丰富托位供给降低托育费用", "1.丰富托育服务供给。", "提高托育服务人员专业素质和技能水平。",
     ["市托育指挥部", "市卫生健康委", "市发展改革委", "市人力资源社会保障局", "市市场监管局", "市教育局", A]),
    (7, "新增普通高中招生计划10000个以上", "2024年新增普通高中招生计划", "高于全省平均水平。", ["市教育局", A]),
    (8, "开展中小学生心理辅导", "2024年培训中小学专兼职", "全力保障学生心理健康。", ["市教育局", "市卫生健康委", A]),
    (9, "新增公办幼儿园学位6000个", "2024年计划新增公办幼儿园学位", "公办率提高到70%以上。", ["市教育局", A]),
    (10, "中心城区早晚高峰免费乘坐公交车", "1.在济宁市中心城区", "构建“快干支微”多层次线网结构。",
     ["市交通运输局", "兖州区", "市公交集团", "济宁交运集团", "正义公交公司", "兖州公交公司"]),
    (11, "建设700公里四好农村路", "继续完善提升农村地区道路", "新改建四好农村路700公里。", ["市交通运输局", "市农业农村局", A]),
    (12, "方便群众新能源汽车充电", "1.在全市乡村领域", "3.建设市县一体的智慧停车充电管理服务平台。",
     ["市能源局", "市发展改革委", "市住房城乡建设局", "市城市管理局", "市农业农村局", "市行政审批服务局",
      "市大数据中心", "国网济宁供电公司", "济宁城投控股集团有限公司", A]),
    (13, "提升社区物业管理服务能力", "1.2024年计划完成物业企业项目经理培训", "高效处理群众投诉。", ["市住房城乡建设局", A]),
    (14, "5G网络深度覆盖", "2024年计划建成200个以上小区", "未实现5G网络信号深度覆盖的问题。",
     ["市工业和信息化局", "市教育局", "市自然资源和规划局", "市住房城乡建设局", "市交通运输局", "市文化和旅游局",
      "市行政审批服务局", "市国资委", "市市场监管局", "市体育局", "市机关事务中心", "国网济宁供电公司",
      "济宁铁塔公司", "济宁移动公司", "济宁联通公司", "济宁电信公司", "广电山东网络济宁分公司", A]),
    (15, "送戏下乡文化惠民演出9000场", "充分发挥各类公共文化设施", "实现行政村（社区）全覆盖。", ["市文化和旅游局", A]),
    (16, "举办群众文化活动10000场", "实施“文化活动惠民生”行动", "丰富群众文化生活。", ["市文化和旅游局", A]),
    (17, "提升乡村医疗服务能力", "2024年全市计划打造10所", "促进乡村医疗卫生体系健康发展。", ["市卫生健康委", A]),
    (18, "中医药参与高血压健康服务", "发挥国家区域医疗中心建设项目辐射作用", "提升中医药参与高血压健康服务的能力和水平。", ["市卫生健康委", A]),
    (19, "深入推进居民长期护理保险", "加快形成“医养康护”", "2024年覆盖约650万人。", ["市医保局"]),
    (20, "实现城镇新增就业6.1万人", "更加突出就业优先导向", "推动就业与经济发展良性互动。",
     ["市人力资源社会保障局", "市财政局", "市住房城乡建设局", "市卫生健康委", A]),
    (21, "盲人按摩就业培训500名", "实施盲人按摩就业培训三年行动计划", "帮助盲人就业创业。", ["市残联", "市人力资源社会保障局", "市财政局", A]),
    (22, "提高困难群众救助保障标准", "继续提高困难群众救助保障标准。", "农村特困人员基本生活标准比上年提高9.5%。", ["市民政局", A]),
    (23, "加强困难群众急难救助保障", "持续擦亮“济时救”品牌", "进一步健全完善救助保障网络。", ["市民政局", A]),
    (24, "为4000名残疾儿童开展康复救助", "2024年计划为4000名", "减轻残疾儿童家庭康复照护负担。",
     ["市残联", "市卫生健康委", "市财政局", "市教育局", "市民政局", "市医保局", "市市场监管局", A]),
    (25, "建设101个口袋公园", "通过拆迁建园", "不断提升城市功能。", ["市城市管理局", A]),
    (26, "体育基础设施提升", "1.按照应配尽配的原则", "人均体育场地面积达到3.5平方米。", ["市体育局", A]),
    (27, "农村供水工程维修养护", "2024年计划实施旧管网", "切实保障农村群众饮水安全。", ["市城乡水务局", A]),
    (28, "开展道路交通安全隐患大排查大整治", "建立隐患动态排查整改工作机制", "县乡道路段6条。",
     ["市交警支队", "市交通运输局", "市住房城乡建设局", "市城市管理局", "市文化和旅游局", "市应急局", "市公路事业发展中心", A]),
    (29, "开展万部电梯深度抽检", "开展“万部电梯深度抽检”专项行动", "实现电梯安全管理水平和电梯维保质量水平双提升。", ["市市场监管局", A]),
    (30, "实施政府灾害民生综合保险项目", "2024年，我市继续按照每人2元", "提高全市防灾减灾救灾能力。",
     ["市应急局", "市财政局", "市地方金融监管局", "金融监管总局济宁监管分局", "市公安局", "市自然资源和规划局",
      "市住房城乡建设局", "市卫生健康委", "市城乡水务局", "市防震减灾中心", "市气象局", A]),
]

C, R, I, Q = S.TYPE_COUNT, S.TYPE_RATE, S.TYPE_INCREASE, S.TYPE_QUALITATIVE


def qualitative(project: int, name: str, quote: str | None = None) -> tuple:
    """A 定性 indicator: no unit, no figure, never split to counties; 原文 is its name unless the phrase differs."""
    return (project, name, "", Q, False, quote or name)


# (project, name, unit, type, split to counties, 原文). The annual target is read
# from 原文 (see target_from_quote), so no figure of the document is typed twice.
INDICATORS = [
    (1, "困难老年人家庭适老化和智能化改造", "户", C, True, "2024年计划免费对2000户失能经济困难老年人家庭进行适老化和智能化改造"),
    (2, "为独居老人安装火灾探测报警器", "名", C, True, "免费为8200名独居且行动不便瘫痪在床的老人安装火灾探测报警器"),
    (3, "新建老年人食堂", "处", C, True, "2024年新建200处老年人食堂"),
    (4, "增加提升社区养老服务设施", "处", C, True, "增加提升社区养老服务设施200处以上"),
    (4, "养老服务从业人员培训", "人次", C, False, "开展养老服务从业人员培训3000人次以上"),
    qualitative(5, "孕妇外周血胎儿游离DNA产前筛查（应检尽检、愿检尽检）", "对符合要求且个人自愿的孕妇免费进行孕妇外周血胎儿游离DNA产前筛查"),
    qualitative(5, "符合条件孕妇免费产前诊断", "对符合条件需要产前诊断的孕妇免费进行羊水细胞染色体核型分析"),
    (6, "新增托位", "个", C, True, "年内新增托位7000个"),
    (6, "其中：新增社区托位", "个", C, True, "其中社区托位2000个以上"),
    (6, "建设单位托育机构", "家", C, True, "建设50家以上的单位托育机构"),
    qualitative(6, "托育费用再下调", "混龄班托育费用再下调"),
    (6, "托育服务人员继续教育培训", "人次", C, False, "开展继续教育培训3000人次"),
    (6, "托育服务人员职业资格培训", "人次", C, False, "职业资格培训2000人次"),
    qualitative(6, "有条件的单位托育机构向附近居民开放", "鼓励有条件的单位托育机构向附近居民开放"),
    qualitative(6, "推行临时托、小时托等服务模式", "支持托育机构推行临时托、小时托等服务模式"),
    (6, "家庭托育支出与全省平均之比", "%", R, False, "确保家庭托育支出不高于全省平均"),
    (7, "新增普通高中招生计划", "个", C, True, "2024年新增普通高中招生计划10000个以上"),
    (7, "全市普通高中录取率", "%", R, False, "全市普通高中录取率达到62%"),
    (8, "培训中小学专兼职心理辅导教师", "人次", C, True, "培训中小学专兼职心理辅导教师2000人次以上"),
    qualitative(8, "每学期开展心理辅导筛查、重点学生建档关注", "每学期开展1次心理辅导筛查，对重点学生建立档案、实时关注"),
    (9, "新增公办幼儿园学位", "个", C, True, "2024年计划新增公办幼儿园学位6000个"),
    (9, "全市幼儿园公办率", "%", R, False, "全市幼儿园公办率提高到70%以上"),
    qualitative(10, "中心城区早晚高峰免费乘公交", "继续实行“早晚高峰免费乘公交”政策"),
    qualitative(10, "优化调整城区公交线网"),
    (11, "新改建四好农村路", "公里", C, True, "2024年计划完成新改建四好农村路700公里"),
    (12, "乡镇充电站全覆盖", "个", C, True, "在全市乡村领域推进电动汽车充电基础设施建设，实现107个乡镇充电站全覆盖"),
    (12, "新建公共充电桩", "台", C, True, "2024年新建公共充电桩4500台"),
    (12, "全市公共充电桩总数", "台", C, False, "全市公共充电桩达到1.6万台"),
    (12, "快充桩比例", "%", R, False, "快充桩比例达到40%"),
    (12, "建成综合服务示范充电站", "个", C, True, "全市建成示范站12个"),
    qualitative(12, "市县一体智慧停车充电管理服务平台", "建设市县一体的智慧停车充电管理服务平台"),
    (13, "物业企业项目经理培训", "人次", C, False, "完成物业企业项目经理培训2000人次"),
    (13, "物业服务从业人员培训", "人次", C, True, "物业服务从业人员培训20000人次"),
    (13, "选树物管小区", "个", C, True, "选树100个物管小区"),
    qualitative(13, "物业合同专项整治", "开展物业合同专项整治行动"),
    qualitative(13, "推广“有事‘码’上说”家门口服务模式", "推广“有事‘码’上说，我们马上办”家门口服务模式"),
    qualitative(13, "县级物业主管、监管部门和街道社区物业管理部门、业委会（物管会）业务培训",
     "加大对县（市、区）物业主管部门、监管部门和街道社区物业管理部门、业委会（物管会）的业务培训"),
    qualitative(13, "试点社区“两委”成员与物业服务项目负责人“双向进入、交叉任职”"),
    qualitative(13, "交叉任职人员、业主委员会成员等信息向小区居民公示",
     "将交叉任职人员、业主委员会成员等信息向小区居民公示"),
    (14, "建成小区（单位）通信设施", "个", C, True, "2024年计划建成200个以上小区（单位）通信设施"),
    (14, "5G网络覆盖面积", "平方米", C, True, "网络覆盖面积40万平方米以上"),
    (15, "送戏下乡文化惠民演出", "场", C, True, "开展送戏下乡文化惠民演出不少于9000场"),
    qualitative(15, "行政村（社区）全覆盖", "实现行政村（社区）全覆盖"),
    (16, "举办群众文化活动", "场", C, True, "实施“文化活动惠民生”行动，2024年举办10000场群众乐于参与、便于参与的文化活动"),
    (17, "打造县域医疗服务次中心", "所", C, True, "全市计划打造10所县域医疗服务次中心"),
    (17, "新建中心村卫生室", "家", C, True, "按照省级标准新建100家中心村卫生室"),
    (18, "建立县级高血压健康服务次中心", "家", C, True, "年内建立10家县级"),
    (18, "建立镇级高血压健康服务次中心", "家", C, True, "60家镇级高血压健康服务次中心"),
    qualitative(18, "建成市级高血压中西医结合诊疗会诊中心"),
    qualitative(18, "打造市级高血压专病医（共）联体和区域高血压防治中心"),
    qualitative(18, "建立“济宁样板”高血压健康管理数据库"),
    qualitative(18, "打造“儒医”中医药便民服务平台"),
    qualitative(18, "“县乡村”三级专业技术人员培训", "加强“县乡村”三级专业技术人员培训"),
    qualitative(18, "县级中医院建立中西医高血压诊疗中心", "引领县级中医院建立中西医高血压诊疗中心"),
    qualitative(18, "乡镇卫生院（社区卫生服务中心）建立中医药干预高血压基层工作站",
     "支持乡镇卫生院（社区卫生服务中心）建立中医药干预高血压基层工作站"),
    qualitative(18, "搭建城乡一体化中医药高血压防控网络"),
    qualitative(18, "推广中西医结合式高血压健康技术方案"),
    (19, "居民长期护理保险覆盖人数", "人", C, False, "为符合条件的失能或半失能参保居民提供长期护理服务，2024年覆盖约650万人"),
    (20, "城镇新增就业", "人", C, True, "2024年全市实现城镇新增就业6.1万人以上"),
    (21, "盲人按摩培训实训", "名", C, True,
     "实施盲人按摩就业培训三年行动计划，2024年计划为500名就业年龄段有就业需求的视力残疾人开展盲人按摩培训实训"),
    (22, "城市低保标准比上年提高", "%", I, False, "城市低保标准比上年提高7.5%"),
    (22, "农村低保标准比上年提高", "%", I, False, "农村低保标准比上年提高9.5%"),
    (22, "城市特困人员基本生活标准比上年提高", "%", I, False, "城市特困人员基本生活标准、孤困儿童基本生活保障标准、残疾人“两项补贴”标准均比上年提高7.5%"),
    (22, "孤困儿童基本生活保障标准比上年提高", "%", I, False, "孤困儿童基本生活保障标准、残疾人“两项补贴”标准均比上年提高7.5%"),
    (22, "残疾人“两项补贴”标准比上年提高", "%", I, False, "残疾人“两项补贴”标准均比上年提高7.5%"),
    (22, "农村特困人员基本生活标准比上年提高", "%", I, False, "农村特困人员基本生活标准比上年提高9.5%"),
    qualitative(23, "“济时救”急难救助",
     "持续擦亮“济时救”品牌，对患重特大疾病或因意外事件导致基本生活出现严重困难，经现行社会救助制度救助之后仍有困难的群众实施救助"),
    (24, "残疾儿童康复救助", "名", C, True, "2024年计划为4000名符合条件的残疾儿童、孤独症儿童提供手术治疗"),
    (25, "新建、改建口袋公园", "个", C, True, "2024年全市计划实施新建、改建口袋公园101个"),
    (26, "打造室外连片综合健身区和室内健身综合体", "处", C, True, "打造室外连片综合健身区和室内健身综合体50处"),
    qualitative(26, "社区健身设施应配尽配、损坏设施修缮", "为尚未配备健身设施的社区进行配装，对损坏的设施进行修缮"),
    (26, "经常参加体育锻炼人数比例", "%", R, False, "实现全市经常参加体育锻炼人数比例达到44%左右"),
    (26, "人均体育场地面积", "平方米", R, False, "人均体育场地面积达到3.5平方米"),
    qualitative(26, "打造“15分钟健身圈”"),
    (27, "村内供水设施改造", "个村", C, True, "实施旧管网、水表等村内供水设施改造220个村"),
    (27, "农村供水维修养护项目", "处", C, True, "实施水泵更换、消毒设备更新、蝶阀更换、水质检测药品购置等农村供水维修养护项目77处"),
    (28, "事故多发路段精准排查整治", "条", C, False, "因交通事故死亡3人以上的23条事故多发路段深入开展精准排查整治"),
    (28, "新增信号机", "台", C, False, "在23条事故多发路段，新增信号机5台"),
    (28, "新增黄闪警示灯、行人信号灯", "套", C, False, "黄闪警示灯、行人信号灯30套"),
    (28, "新增电警抓拍设备", "套", C, False, "电警抓拍设备27套"),
    (28, "新增各类标志", "面", C, False, "各类标志119面"),
    (28, "新增减速带", "条", C, False, "减速带39条"),
    (28, "新增爆闪灯", "个", C, False, "爆闪灯92个"),
    (28, "创建交通安全示范国省道路段", "条", C, False, "创建交通安全示范国省道路段4条"),
    (28, "创建交通安全示范县乡道路段", "条", C, False, "县乡道路段6条"),
    qualitative(28, "隐患动态排查整改工作机制", "建立隐患动态排查整改工作机制"),
    (29, "电梯深度抽检", "台", C, True, "深度抽检不低于10000台"),
    qualitative(30, "按每人2元、每户2元标准为全市居民购买政府灾害民生综合保险",
     "继续按照每人2元、每户2元的标准，为全市居民购买政府灾害民生综合保险"),
    (30, "保障范围（类别数）", "类", R, False, "保障范围由6类增加至12类"),
    (30, "居民人身伤亡救助金限额（每人）", "元", R, False, "居民人身伤亡救助金限额由每人15万元提高至20万元"),
    (30, "其中：人身伤亡医疗费用限额（每人）", "元", R, False, "包括每人医疗费用限额10万元"),
    (30, "居民倒损房屋救助金限额（每户）", "元", R, False, "居民倒损房屋救助金限额由每户5万元提高至10万元"),
    (30, "见义勇为、抢险救灾等伤亡救助金限额（每人）", "元", R, False,
     "救助金限额由每人25万元提高至30万元"),
    (30, "其中：见义勇为等医疗费用限额（每人）", "元", R, False, "包括每人医疗费用限额15万元"),
]

# Targets the document states without a figure, with the reason for the number stored.
STATED_TARGETS = {
    # A ceiling against the province's average: the unit reports the city's level as a share of it.
    "确保家庭托育支出不高于全省平均": 100,
}

# The 14 county-level units (the document's addressees) with an illustrative
# weight (roughly resident population, 万人) used only for 示例 splits.
COUNTIES = [
    ("任城区", "370811", 105), ("兖州区", "370812", 62), ("曲阜市", "370881", 64), ("邹城市", "370883", 112),
    ("微山县", "370826", 63), ("鱼台县", "370827", 44), ("金乡县", "370828", 61), ("嘉祥县", "370829", 80),
    ("汶上县", "370830", 68), ("泗水县", "370831", 52), ("梁山县", "370832", 73),
    ("济宁高新区", "", 30), ("太白湖新区", "", 20), ("济宁经济技术开发区", "", 25),
]
ZONES = {"济宁高新区", "太白湖新区", "济宁经济技术开发区"}
# Project 26's split is stated in the document: 任城区、兖州区各10处，三区各4处，其他县（市）各2处.
DOCUMENT_SPLITS = {
    "P26-1": {"任城区": 10, "兖州区": 10, "济宁高新区": 4, "太白湖新区": 4, "济宁经济技术开发区": 4},
}
DOCUMENT_SPLIT_OTHERS = {"P26-1": 2}
# P12-5: the document sets a rule, not a split: 主城区 2—3 stations, every other 县（市、区） at least 1 (12 in all).
# 主城区 is read as 任城区 and the three zones inside it (兖州区 is one of the 其他县（市、区）); with 12 stations
# the rule leaves exactly 2 for 主城区 and 1 for each of the other 10. The 示例 puts 主城区's 2 by weight.
MAIN_CITY = ["任城区", "济宁高新区", "太白湖新区", "济宁经济技术开发区"]
RULE_SPLITS = {"P12-5": (MAIN_CITY, 2, 1)}  # code -> (主城区 units, their total, each other county)
SPLIT_RULES = {
    "P26-1": "文件：“其中，中心城区32处（任城区、兖州区各10处，济宁高新区、太白湖新区、济宁经开区各4处），其他县（市）各2处。”",
    "P12-5": "文件：“在主城区打造2—3个一体化的综合服务示范充电站服务网约车和广大市民群众，提供充电、餐饮、休闲一体化服务。"
             "其他县（市、区）参照主城区模式，每个县（市、区）至少建设1个综合服务示范充电站。”"
             "即主城区2—3个、其他每个县（市、区）至少1个，全市合计12个。"
             "示例：主城区（任城区、济宁高新区、太白湖新区、济宁经济技术开发区）共2个，其他10个县市区各1个；"
             "请按实际布点替换，并保持上述规则。",
}
EXAMPLE_SPLIT_RULE = "示例：按常住人口粗略权重（见“单位”表说明）分解，请按各县市区实际任务替换，合计须等于年度目标。"

OTHER_UNITS = {
    "国网济宁供电公司", "济宁城投控股集团有限公司", "济宁铁塔公司", "济宁移动公司", "济宁联通公司", "济宁电信公司",
    "广电山东网络济宁分公司", "市公交集团", "济宁交运集团", "正义公交公司", "兖州公交公司", "金融监管总局济宁监管分局",
}

SETTINGS = [
    (S.SETTING_YEAR, 2024),
    (S.SETTING_PERIOD, "月"),
    (S.SETTING_DEADLINE_DAY, S.DEFAULT_DEADLINE_DAY),
    (S.SETTING_LAG, S.DEFAULT_LAG),
    (S.SETTING_SEVERE, S.DEFAULT_SEVERE),
    (S.SETTING_TITLE, "济政发〔2024〕2号 济宁市人民政府关于办好2024年“重点民生实事”的通知"),
]


def normalized_document() -> str:
    """The document with all whitespace removed (PDF line breaks split words)."""
    return re.sub(r"\s+", "", DOCUMENT.read_text(encoding="utf-8"))


def _figure(quote: str, unit: str) -> re.Match:
    """The one figure of a phrase followed by the unit's first character (or 万 then the unit).

    A starting level written "由 X … 至 Y" is not the target and is skipped.
    """
    unit_head = re.escape(unit[0]) if unit != "%" else "%"
    text = re.sub(r"由[^至]*至", lambda m: "#" * len(m.group()), quote)  # same length: positions stay valid
    hits = list(re.finditer(r"(\d+(?:\.\d+)?)(万?)" + unit_head, text))
    if len(hits) != 1:
        raise ValueError(f"cannot read one figure with unit {unit!r} from {quote!r}: {[h.group() for h in hits]}")
    return hits[0]


def target_from_quote(quote: str, unit: str) -> float:
    """The figure in a quoted phrase, in the base unit (万 expanded), or the stated target of a figureless phrase."""
    if quote in STATED_TARGETS:
        return STATED_TARGETS[quote]
    number, wan = _figure(quote, unit).groups()
    value = float(number) * (10000 if wan else 1)
    return int(value) if value.is_integer() else value


def basis_from_quote(quote: str, unit: str) -> str:
    """目标口径 as the phrase words the figure: 约650万人, 200处以上, 44%左右, 不少于9000场, 不低于10000台, 不高于…."""
    if quote in STATED_TARGETS:
        return S.BASIS_CEILING if S.BASIS_CEILING in quote else S.BASIS_EXACT
    hit = _figure(quote, unit)
    before, after = quote[:hit.start()], quote[hit.end() - 1:]
    after = after[len(unit):] if after.startswith(unit) else after[1:]
    for basis, (prefix, suffix) in S.TARGET_BASES.items():
        if basis and ((prefix and before.endswith(prefix)) or (suffix and after.startswith(suffix))):
            return basis
    return S.BASIS_EXACT


def rule_split(total: int, main_city: list[str], main_total: int, each: int) -> dict[str, int]:
    """A split that follows a 主城区 / 其他县市区 rule: ``main_total`` spread over 主城区 by weight, ``each`` elsewhere."""
    weights = {c: w for c, _, w in COUNTIES}
    parts = {c: each for c in weights if c not in main_city}
    parts |= largest_remainder(main_total, {c: weights[c] for c in main_city})
    assert sum(parts.values()) == total, (total, parts)
    return parts


def largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split an integer total by weights so the parts sum exactly to it."""
    weight_sum = sum(weights.values())
    raw = {k: total * w / weight_sum for k, w in weights.items()}
    parts = {k: int(v) for k, v in raw.items()}
    left = total - sum(parts.values())
    for k in sorted(raw, key=lambda k: raw[k] - parts[k], reverse=True)[:left]:
        parts[k] += 1
    return parts


def build_rows():
    doc = normalized_document()
    projects, indicators, splits = [], [], []
    category_of = {p: c for c, ps in CATEGORIES.items() for p in ps}
    for number, name, start, end, units in PROJECTS:
        i, j = doc.index(start), doc.index(end, doc.index(start)) + len(end)
        projects.append([number, category_of[number], name, doc[i:j], units[0], "、".join(units[1:]),
                         S.YES if S.ALL_COUNTIES in units else S.NO])
    lead_of = {p[0]: p[4] for p in projects}
    seq: dict[int, int] = {}
    for project, name, unit, kind, split, quote in INDICATORS:
        assert quote in doc, quote
        seq[project] = seq.get(project, 0) + 1
        code = f"P{project:02d}-{seq[project]}"
        target = "" if kind == S.TYPE_QUALITATIVE else target_from_quote(quote, unit)
        basis = S.BASIS_EXACT if kind == S.TYPE_QUALITATIVE else basis_from_quote(quote, unit)
        rule = SPLIT_RULES.get(code, EXAMPLE_SPLIT_RULE) if split else ""
        indicators.append([code, project, name, unit, target, kind, S.YES if split else S.NO,
                           lead_of[project], quote, basis, rule])
        if split:
            if code in RULE_SPLITS:
                parts = rule_split(int(target), *RULE_SPLITS[code])
                source = S.SPLIT_SOURCE_EXAMPLE
            elif code in DOCUMENT_SPLITS:
                parts = {c: DOCUMENT_SPLITS[code].get(c, DOCUMENT_SPLIT_OTHERS[code]) for c, _, _ in COUNTIES}
                assert sum(parts.values()) == target, (code, parts)
                source = S.SPLIT_SOURCE_DOCUMENT
            else:
                parts = largest_remainder(int(target), {c: w for c, _, w in COUNTIES})
                source = S.SPLIT_SOURCE_EXAMPLE
            splits += [[code, c, parts[c], source] for c, _, _ in COUNTIES]
    named = []
    for _, _, _, _, units in PROJECTS:
        named += [u for u in units if u not in named]
    reporting = {row[7] for row in indicators}
    units = []
    for u in named:
        if u == S.ALL_COUNTIES or u in {c for c, _, _ in COUNTIES}:
            continue  # the county-level units are listed below, in the document's order
        kind = S.UNIT_TYPE_OTHER if u in OTHER_UNITS else (
            S.UNIT_TYPE_COUNTY if u in {c for c, _, _ in COUNTIES} else S.UNIT_TYPE_CITY)
        units.append([u, kind, S.YES if u in reporting else S.NO, "", ""])
    units.append([S.ALL_COUNTIES, S.UNIT_TYPE_COUNTY, S.NO, "", "文件中的统称，指下列14个县市区"])
    for county, adcode, weight in COUNTIES:
        units.append([county, S.UNIT_TYPE_COUNTY, S.NO, adcode,
                      ("功能区，地图外单列；" if county in ZONES else "") + f"分解对象；示例权重 {weight}"])
    return projects, indicators, splits, units


def write_workbook(out: Path) -> None:
    projects, indicators, splits, units = build_rows()
    wb = Workbook()
    sheets = [
        (S.SHEET_PROJECTS, S.PROJECT_COLUMNS, projects, [8, 14, 30, 80, 18, 40, 10]),
        (S.SHEET_INDICATORS, S.INDICATOR_COLUMNS + [S.COL_QUOTE, S.COL_BASIS, S.COL_SPLIT_RULE], indicators,
         [10, 8, 36, 8, 12, 10, 8, 18, 60, 10, 40]),
        (S.SHEET_SPLITS, S.SPLIT_COLUMNS, splits, [10, 20, 10, 8]),
        (S.SHEET_UNITS, S.UNIT_COLUMNS + ["行政区划代码", "说明"], units, [26, 14, 12, 12, 40]),
        (S.SHEET_SETTINGS, S.SETTINGS_COLUMNS + ["说明"], [
            [k, v, note] for (k, v), note in zip(SETTINGS, [
                "目标表所属年度；新年度换一份目标表即可",
                "每月报送一次",
                "每月报表于次月该日（含）前报送，晚于此日为逾期",
                "完成率落后序时进度超过该百分点数为“滞后”",
                "完成率落后序时进度超过该百分点数为“严重滞后”",
                "目标来源文件",
            ])], [26, 60, 50]),
    ]
    wb.remove(wb.active)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for title, columns, rows, widths in sheets:
        ws = wb.create_sheet(title)
        ws.append(columns)
        for row in rows:
            ws.append(row)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = header_fill
        for idx, width in enumerate(widths):
            ws.column_dimensions[chr(ord("A") + idx)].width = width
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
    wb.save(out)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "targets.xlsx"
    write_workbook(target)
    print(f"wrote {target}")
