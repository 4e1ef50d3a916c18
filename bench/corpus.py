"""A synthetic but realistic memory corpus: people telling an assistant about their lives.

Every user has a persona (city, family, pets, work, hobbies, foods) and speaks mostly Chinese or
mostly English, switching language now and then as bilingual users do. Their messages are short
statements of plans, events and preferences built from that persona, so a user's memories share
vocabulary the way real ones do, and queries about the persona have real answers in them.
Deterministic: the same seed and user give the same text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CITIES = [
    ("Hangzhou", "杭州"),
    ("Chengdu", "成都"),
    ("Shenzhen", "深圳"),
    ("Beijing", "北京"),
    ("Shanghai", "上海"),
    ("Kyoto", "京都"),
    ("Lisbon", "里斯本"),
    ("Berlin", "柏林"),
    ("Singapore", "新加坡"),
    ("Xi'an", "西安"),
    ("Guangzhou", "广州"),
    ("Seattle", "西雅图"),
]
RELATIONS = [
    ("my sister", "我姐姐"),
    ("my brother", "我弟弟"),
    ("my mother", "我妈妈"),
    ("my father", "我爸爸"),
    ("my daughter", "我女儿"),
    ("my son", "我儿子"),
    ("my wife", "我老婆"),
    ("my husband", "我老公"),
    ("my manager", "我的领导"),
    ("my best friend", "我最好的朋友"),
    ("my roommate", "我室友"),
    ("my grandmother", "我奶奶"),
]
PETS = [
    ("a golden retriever", "一只金毛"),
    ("two cats", "两只猫"),
    ("a rabbit", "一只兔子"),
    ("a parrot", "一只鹦鹉"),
    ("a corgi", "一只柯基"),
    ("goldfish", "几条金鱼"),
]
JOBS = [
    ("a nurse", "护士"),
    ("a software engineer", "程序员"),
    ("a high school teacher", "高中老师"),
    ("an accountant", "会计"),
    ("a product manager", "产品经理"),
    ("a chef", "厨师"),
    ("a lawyer", "律师"),
    ("a graphic designer", "平面设计师"),
]
HOBBIES = [
    ("hiking", "爬山"),
    ("yoga", "瑜伽"),
    ("photography", "摄影"),
    ("playing the piano", "弹钢琴"),
    ("running marathons", "跑马拉松"),
    ("painting", "画画"),
    ("badminton", "打羽毛球"),
    ("baking bread", "烤面包"),
    ("swimming", "游泳"),
    ("chess", "下象棋"),
    ("gardening", "种花"),
    ("camping", "露营"),
]
FOODS = [
    ("hot pot", "火锅"),
    ("ramen", "拉面"),
    ("dumplings", "饺子"),
    ("sushi", "寿司"),
    ("spicy noodles", "麻辣小面"),
    ("dim sum", "早茶点心"),
    ("vegetarian food", "素食"),
    ("barbecue", "烧烤"),
    ("seafood", "海鲜"),
    ("pizza", "披萨"),
]
HOTELS = [
    ("7 Days Inn", "七天酒店"),
    ("Hilton", "希尔顿"),
    ("Atour", "亚朵"),
    ("Ji Hotel", "全季酒店"),
    ("a homestay", "民宿"),
]
WHEN = [
    ("next weekend", "下周末"),
    ("this summer", "今年暑假"),
    ("during the National Day holiday", "国庆假期"),
    ("next month", "下个月"),
    ("last Friday", "上周五"),
    ("over Spring Festival", "春节的时候"),
    ("tomorrow evening", "明天晚上"),
    ("in two weeks", "两周后"),
]
THINGS = [
    ("a new laptop", "一台新电脑"),
    ("an electric car", "一辆电动车"),
    ("running shoes", "跑鞋"),
    ("a coffee machine", "咖啡机"),
    ("a piano", "一架钢琴"),
    ("a tent", "一顶帐篷"),
    ("noise-cancelling headphones", "降噪耳机"),
]

EN_STATEMENTS = [
    "I'm planning a trip to {city} {when} with {relation}.",
    "{Relation} is visiting {city} {when} and wants to try {food}.",
    "I work as {job} and my shifts are long this month.",
    "We have {pet} at home; feeding them is my job.",
    "I started {hobby} again and I go every Saturday morning.",
    "I really don't like {food}; please never suggest it.",
    "When I travel I prefer staying at {hotel} because it is cheap and clean.",
    "{Relation} recommended {food} near the office, it was great.",
    "I want to buy {thing} before {when_bare}.",
    "My doctor said I should do more {hobby} and eat less {food}.",
    "{Relation} and I argued about moving to {city}.",
    "I booked {hotel} in {city}; we check in {when}.",
]
ZH_STATEMENTS = [
    "我打算{when}和{relation}一起去{city}玩。",
    "{relation}{when}要来{city}，想吃{food}。",
    "我是{job}，这个月经常加班。",
    "我们家养了{pet}，平时都是我喂。",
    "我最近又开始{hobby}了，每周六早上去。",
    "我真的不喜欢吃{food}，以后别给我推荐。",
    "出门旅游我一般住{hotel}，便宜又干净。",
    "{relation}推荐了公司附近的{food}，味道很好。",
    "我想在{when}之前买{thing}。",
    "医生说我应该多{hobby}，少吃{food}。",
    "{relation}和我为搬去{city}的事吵了一架。",
    "我订了{city}的{hotel}，{when}入住。",
]
# Specifics appended to most statements, so a user's history rarely repeats itself word for word.
EN_DETAILS = [
    " It should cost about {n}00 yuan.",
    " We leave at {h}:{m}.",
    " {name} is coming too.",
    " That makes it the {n}th time this year.",
    " I need to decide by the {d}th.",
    " The place is on {street} Road, number {n}.",
    " My budget is {n},000 for everything.",
    " {name} said it takes {n} hours to get there.",
]
ZH_DETAILS = [
    "大概要花{n}00块钱。",
    "我们{h}点{m}分出发。",
    "{name}也一起去。",
    "这已经是今年第{n}次了。",
    "我得在{d}号之前决定。",
    "地址在{street}路{n}号。",
    "总预算{n}千块。",
    "{name}说过去要{n}个小时。",
]
NAMES = ["Lily", "Tom", "小王", "老李", "Anna", "阿杰", "Mei", "David", "小陈", "Sara"]
STREETS = ["Nanjing", "Wenyi", "Huaihai", "Zhongshan", "Jiefang", "Renmin", "Binjiang"]

EN_ASSISTANT = [
    "Noted: you enjoy {hobby}; I'll keep weekends in mind.",
    "Got it, {hotel} in {city} it is.",
    "I'll remember that {relation} likes {food}.",
]
ZH_ASSISTANT = [
    "好的，记住了：您喜欢{hobby}。",
    "明白，{city}的话给您优先找{hotel}。",
    "好的，我记下了{relation}喜欢{food}。",
]
EN_QUERIES = [
    "Where am I travelling {when}?",
    "What does {relation} like to eat?",
    "Which hotel do I usually prefer?",
    "What pets do I have?",
    "What did I say about {hobby}?",
    "What do I want to buy?",
    "What is my job?",
    "Recommend a restaurant for me in {city}",
]
ZH_QUERIES = [
    "我{when}要去哪里？",
    "{relation}喜欢吃什么？",
    "我出差一般住什么酒店？",
    "我家养了什么宠物？",
    "我周末一般做什么运动？",
    "我想买什么东西？",
    "我是做什么工作的？",
    "给我推荐一家{city}的餐厅",
]


@dataclass(frozen=True)
class Persona:
    chinese: bool
    city: int
    relations: list[int]
    pet: int
    job: int
    hobbies: list[int]
    foods: list[int]
    hotel: int


def persona(seed: int, user: int) -> Persona:
    rng = random.Random(seed * 1_000_003 + user)
    return Persona(
        chinese=user % 2 == 0,
        city=rng.randrange(len(CITIES)),
        relations=rng.sample(range(len(RELATIONS)), 4),
        pet=rng.randrange(len(PETS)),
        job=rng.randrange(len(JOBS)),
        hobbies=rng.sample(range(len(HOBBIES)), 3),
        foods=rng.sample(range(len(FOODS)), 3),
        hotel=rng.randrange(len(HOTELS)),
    )


def _fill(template: str, p: Persona, rng: random.Random, zh: bool) -> str:
    side = 1 if zh else 0

    def pick(table: list[tuple[str, str]], own: list[int] | int | None = None) -> str:
        if isinstance(own, list) and rng.random() < 0.8:
            return table[rng.choice(own)][side]
        if isinstance(own, int) and rng.random() < 0.8:
            return table[own][side]
        return rng.choice(table)[side]

    when = pick(WHEN)
    relation = pick(RELATIONS, p.relations)
    return template.format(
        city=pick(CITIES, p.city),
        when=when,
        when_bare=when.removeprefix("during ").removeprefix("over "),
        relation=relation,
        Relation=relation[:1].upper() + relation[1:],
        pet=pick(PETS, p.pet),
        job=pick(JOBS, p.job),
        hobby=pick(HOBBIES, p.hobbies),
        food=pick(FOODS, p.foods),
        hotel=pick(HOTELS, p.hotel),
        thing=pick(THINGS),
    )


def messages(seed: int, user: int, start: int, count: int) -> list[dict[str, str]]:
    """Messages ``start .. start+count`` of the user's history, as add/message takes them."""
    p = persona(seed, user)
    found = []
    for index in range(start, start + count):
        rng = random.Random(f"{seed}:{user}:{index}")
        zh = p.chinese if rng.random() < 0.8 else not p.chinese
        assistant = index % 4 == 3
        pool = (ZH_ASSISTANT if zh else EN_ASSISTANT) if assistant else None
        pool = pool or (ZH_STATEMENTS if zh else EN_STATEMENTS)
        text = _fill(rng.choice(pool), p, rng, zh)
        if not assistant and rng.random() < 0.85:
            text += rng.choice(ZH_DETAILS if zh else EN_DETAILS).format(
                n=rng.randint(2, 30),
                h=rng.randint(6, 22),
                m=rng.choice(["00", "15", "30", "45"]),
                d=rng.randint(1, 28),
                name=rng.choice(NAMES),
                street=rng.choice(STREETS),
            )
        found.append({"role": "assistant" if assistant else "user", "content": text})
    return found


def query(rng: random.Random, seed: int, user: int) -> str:
    p = persona(seed, user)
    zh = p.chinese if rng.random() < 0.8 else not p.chinese
    return _fill(rng.choice(ZH_QUERIES if zh else EN_QUERIES), p, rng, zh)
