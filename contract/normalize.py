"""Normal forms of what a guard types at the gate: vehicle plates and people's names.

Kiosk and server both use these, so a watchlist entry entered on the web matches what a
guard types at a kiosk whatever the keyboard gave: full-width or half-width, upper or lower
case, spaces and separators, traditional or simplified characters.

``TRADITIONAL`` is a small table of common traditional characters that occur in surnames and
given names (about 300); it is not a full converter (OpenCC has tens of thousands of entries
and context rules). A character missing from it stays as typed, so a name written with a rare
traditional character matches only when the entry was written the same way.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

PLATE_MAX = 16
# What separates groups on a plate or in a name: removed, never part of the normal form.
SEPARATORS = re.compile(r"[\s·•・．.\-_/\\'’‧]+")
_PLATE_CHARS = re.compile(r"^[A-Z0-9\u4e00-\u9fff]+$")

_PAIRS = (
    "張张 陳陈 劉刘 黃黄 楊杨 趙赵 吳吴 周周 孫孙 馬马 鄭郑 謝谢 韓韩 馮冯 鄧邓 許许 蕭萧 曾曾 葉叶 蘇苏 盧卢 蔣蒋 "
    "賈贾 魏魏 薛薛 閻阎 陸陆 錢钱 湯汤 孔孔 鄒邹 譚谭 龔龚 嚴严 羅罗 萬万 顧顾 華华 賴赖 龍龙 喬乔 鍾钟 聶聂 "
    "歐欧 倫伦 廣广 東东 區区 莊庄 溫温 衛卫 齊齐 藍蓝 關关 邊边 費费 紀纪 單单 簡简 饒饶 戴戴 嶽岳 鄔邬 "
    "鮑鲍 雲云 傅傅 鳳凤 華华 韋韦 鄺邝 闞阚 冼冼 壽寿 龐庞 樂乐 項项 儲储 寧宁 葛葛 勞劳 蔔卜 鄖郧 "
    "偉伟 華华 國国 軍军 強强 濤涛 鵬鹏 傑杰 輝辉 敏敏 靜静 麗丽 豔艳 紅红 蘭兰 鳳凤 婭娅 嬌娇 瑩莹 "
    "穎颖 潔洁 綺绮 雯雯 萍萍 慧慧 賢贤 書书 滿满 廣广 慶庆 龍龙 亞亚 寶宝 貴贵 興兴 榮荣 昇升 "
    "勝胜 權权 聖圣 進进 義义 禮礼 儀仪 順顺 際际 達达 運运 遠远 連连 長长 發发 鑫鑫 錦锦 銘铭 "
    "鋒锋 鐵铁 鋼钢 鍵键 鎮镇 鏡镜 鴻鸿 鶴鹤 鵑鹃 鷹鹰 麒麒 麟麟 飛飞 駿骏 騰腾 驥骥 馳驰 "
    "雙双 麗丽 豐丰 嶺岭 巖岩 峯峰 濱滨 潤润 澤泽 淵渊 漢汉 滬沪 灣湾 湧涌 濟济 瀾澜 歡欢 "
    "愛爱 憶忆 懷怀 戀恋 聰聪 穩稳 積积 穀谷 麥麦 風风 雪雪 雲云 電电 霧雾 陽阳 陰阴 陣阵 "
    "隊队 學学 師师 員员 幹干 會会 從从 眾众 僑侨 傳传 億亿 價价 儉俭 優优 兒儿 黨党 "
    "萬万 範范 葦苇 莖茎 蒼苍 蓮莲 薈荟 藝艺 藥药 蘆芦 蘊蕴 繼继 緯纬 綠绿 維维 紹绍 經经 "
    "結结 絲丝 統统 線线 編编 練练 縣县 總总 織织 繡绣 續续 紀纪 約约 級级 紗纱 純纯 細细 "
    "業业 樹树 標标 櫻樱 橋桥 機机 楓枫 棟栋 楊杨 樺桦 檸柠 櫃柜 權权 歲岁 歷历 曆历 "
    "曉晓 暉晖 曄晔 顯显 顏颜 題题 願愿 順顺 頌颂 領领 頤颐 頡颉 碩硕 穎颖 額额 類类 "
    "語语 詩诗 誠诚 詠咏 課课 謙谦 譽誉 讓让 讚赞 識识 證证 議议 護护 談谈 謀谋 諾诺 "
    "貞贞 財财 賓宾 贊赞 贏赢 質质 資资 賀贺 費费 貝贝 軒轩 輪轮 輕轻 農农 邁迈 遙遥 "
    "鄉乡 鄰邻 郵邮 鈞钧 鈴铃 銀银 銳锐 錫锡 鍊炼 鎧铠 鑒鉴 閃闪 開开 閩闽 闊阔 闖闯 "
    "陝陕 隨随 隱隐 雞鸡 離离 難难 靈灵 韻韵 響响 頂顶 項项 預预 頓顿 頻频 顧顾 "
    "餘余 館馆 馨馨 驕骄 髮发 鬥斗 魯鲁 鮮鲜 鳴鸣 鴿鸽 鵝鹅 麼么 黎黎 點点 齡龄 "
    "證证 車车 門门 馬马 魚鱼 鳥鸟 貓猫 為为 無无 與与 個个 們们 來来 時时 實实 "
    "對对 導导 層层 屬属 島岛 崗岗 帥帅 帶带 幣币 歸归 當当 彌弥 徵征 德德 戶户 "
    "揚扬 換换 擁拥 擇择 敵敌 數数 斷断 於于 舊旧 條条 構构 槍枪 氣气 漁渔 滿满 "
    "潛潜 災灾 煙烟 熱热 燈灯 營营 爾尔 獎奖 環环 現现 瓊琼 產产 畫画 盡尽 眾众 "
    "礦矿 禪禅 離离 筆笔 範范 簽签 籃篮 糧粮 紐纽 絕绝 網网 罷罢 聲声 聽听 職职 "
    "膽胆 臉脸 臺台 興兴 舉举 艦舰 蓋盖 處处 號号 蟲虫 補补 裝装 見见 規规 視视 "
    "親亲 覺觉 觀观 訂订 計计 記记 設设 許许 試试 話话 認认 說说 請请 讀读 變变 "
    "貨货 賣卖 購购 趕赶 趙赵 跡迹 蹤踪 輩辈 轉转 辦办 過过 邏逻 鄭郑 醫医 釋释 "
    "針针 鋪铺 錯错 鍋锅 閱阅 陸陆 險险 雜杂 霸霸 靜静 頭头 顆颗 驗验 體体 鬧闹"
)
TRADITIONAL: dict[str, str] = {pair[0]: pair[1] for pair in _PAIRS.split() if pair[0] != pair[1]}
_TO_SIMPLIFIED = str.maketrans(TRADITIONAL)


class NormalizeError(ValueError):
    """A value with no usable normal form; ``reason`` is a stable reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _half_width(text: str) -> str:
    # NFKC turns full-width Latin letters, digits and punctuation (Ａ１２) into ASCII and the
    # ideographic space into a plain one; CJK ideographs are left alone.
    return unicodedata.normalize("NFKC", text)


def plate(text: str) -> str:
    """A plate's normal form (PROTOCOL.md section 3): upper case, half-width, no spaces or
    separators, at most 16 characters; letters, digits and Chinese characters only."""
    value = SEPARATORS.sub("", _half_width(text)).upper().translate(_TO_SIMPLIFIED)
    if not value:
        raise NormalizeError("bad_plate", "the plate is empty")
    if len(value) > PLATE_MAX:
        raise NormalizeError("bad_plate", f"the plate has more than {PLATE_MAX} characters")
    if not _PLATE_CHARS.match(value):
        odd = sorted({ch for ch in value if not _PLATE_CHARS.match(ch)})
        raise NormalizeError("bad_plate", f"the plate has characters a plate cannot have: {''.join(odd)[:10]!r}")
    return value


def person_name(text: str) -> str:
    """A name's normal form for matching (never for display): half-width, case-folded, without
    spaces or separators, traditional characters of the table made simplified."""
    value = SEPARATORS.sub("", _half_width(text)).casefold().translate(_TO_SIMPLIFIED)
    return "".join(ch for ch in value if unicodedata.category(ch)[0] in "LN")


WATCH_ROUNDS = 20_000  # PBKDF2 rounds: ~10 ms a value on the server, a little more on a Pi


def watch_hash(salt: str, kind: str, normal: str) -> str:
    """The salted, stretched hash of one normal form, as kiosks receive the watchlist.

    ``kind`` is ``name`` or ``plate``. A stolen kiosk then holds no names; each guess at a name
    costs WATCH_ROUNDS hashes."""
    digest = hashlib.pbkdf2_hmac("sha256", f"{kind}:{normal}".encode(), salt.encode(), WATCH_ROUNDS, dklen=16)
    return digest.hex()
