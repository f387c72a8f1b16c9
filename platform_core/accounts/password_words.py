"""Words a guesser tries first against Chinese passwords, in the order it would try them.

zxcvbn ships English lists; these add what people here build passwords from: pinyin surnames
(百家姓, most common first), given names and their syllables, Mongolian names as they are
romanised in Inner Mongolia, the patterns of Chinese password leaks (520 "I love you", 1314
"for a lifetime", keyboard walks) and the product's own words. Rank matters: a word early in
its list is guessed sooner.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


SURNAMES = _words(
    "wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng "
    "liang xie song tang han feng deng cao peng zeng xiao tian dong yuan pan cai jiang yu du ye "
    "cheng wei su lv lu ding ren shen yao jiang cui zhong tan fan wan qiu jin shi liao jia xia "
    "fu fang bai zou meng xiong qin yan hou xue lei long duan hao kong shao mao chang wan gu lai "
    "wu qian tao he kang mo yin yi chai ni zhuo gong niu hong ouyang situ zhuge shangguan murong "
    "bao ba bai wen an geng qi kou ke ju mi pu qu rong sang tong wei xi xing yue zang zu"
)

GIVEN_NAMES = _words(
    "wei fang na min jing li qiang lei jun yang yong yan jie juan tao ming chao xiuying xiulan "
    "xia hui ping gang gui ying hua hong fei bin yu dan ning bo xin xiang lin jian hao kai yi "
    "lili jingjing tingting wenwen xiaoming xiaohong xiaoli dawei jianguo jianhua guihua "
    "guilan guiying shulan shuzhen yulan yumei yuzhen fengying xiuzhen lanying zhiqiang "
    "zhiming haiyan xiaoyan xiaomei meiling meili guoqing aiguo weiguo jianjun jianping "
    "jianxin zhihua huimin hongmei hongxia chunmei chunhua qiuju dongmei xuemei yuying "
    "san si wu liu qi ba jiu shi er"
)

# Mongolian given names as registered in pinyin in Inner Mongolia (巴特尔, 其其格, 乌云, ...).
MONGOLIAN_NAMES = _words(
    "bateer batu bater qiqige wuyun saren siqin tuya gerile suhe bayaer naren huhe bayin "
    "baoyin wulan wuritu aodeng alatan tana sarula nasen narisu chaolu haserdun hasi "
    "mengkebateer sainbayaer enhe erdeni buren bilige jirigala tegusi wuliji heshig"
)

# The famous placeholder names (张三, 李四, 王五, 赵六) and common full names.
FULL_NAMES = _words(
    "zhangsan lisi wangwu zhaoliu zhangwei wangwei wangfang liwei lina zhangmin lijing "
    "wangjing liuwei wangxiuying lixiuying zhangxiuying liuyang zhangjie wanglei lijun"
)

PATTERNS = _words(
    "woaini 5201314 1314520 520520 521521 1314 520 woaini1314 iloveyou aini aiwo woaiwojia "
    "qq123456 qqqqqq 147258369 159357 741852963 789456123 147258 258369 123qwe qweasd "
    "qwerty qwertyuiop asdfgh zxcvbn 1qaz2wsx 1q2w3e4r a123456 a12345678 abc123456 "
    "aa123456 woshishui nihao nihaoma zhongguo beijing shanghai huhehaote baotou neimenggu "
    "mima mimama wodemima admin123 caonima 888888 666666 168168 518518 110110 123123"
)

# What this product's users see every day: guessers read the login page too.
PRODUCT_WORDS = _words(
    "12349 hotline rexian yanglao yanglaofuwu minzheng laoren zhaohu shequ zuoxi "
    "zhiban kefu fuwu 12345 12349hotline hotline12349"
)

FREQUENCY_LISTS: dict[str, list[str]] = {
    name: list(dict.fromkeys(words))  # first mention sets the rank
    for name, words in {
        "chinese_surnames": SURNAMES,
        "chinese_given_names": GIVEN_NAMES + MONGOLIAN_NAMES,
        "chinese_full_names": FULL_NAMES,
        "chinese_patterns": PATTERNS,
        "hotline_words": PRODUCT_WORDS,
    }.items()
}
