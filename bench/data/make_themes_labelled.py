"""Write bench/data/themes_labelled.csv: short written answers about known topics, for measuring themes.

Run: python bench/data/make_themes_labelled.py   (deterministic: the same file every time)

Answers are in the style of the street-safety, residents-satisfaction and tenant-feedback flows'
open questions ("Which place feels least safe?", "What one thing should the council do better?").
Each is built from one of many phrasings of its topic, with places, openings and endings shared
across topics (so "near the station" says nothing about the topic), occasional lower case,
missing punctuation and typing slips, as residents write them. About one in ten is in Welsh and
one in fourteen in Polish. The topic column is the known answer; the analysis never reads it.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 18
PER_TOPIC = 95

PLACES = ["near the station", "on Fifth Avenue", "by the town park", "in Old Harlow", "around The Stow",
          "on Second Avenue", "by the underpass", "near Harvey Centre", "on Edinburgh Way", "in Church Langley",
          "by the library", "on our estate", "outside the school", "near the shops on Bush Fair", ""]
OPENINGS = ["", "", "", "I think ", "Honestly ", "Please sort out ", "For me it's ", "Mainly ", "Definitely ",
            "The council should look at ", "My biggest worry is ", "Really ", "Has to be "]
ENDINGS = ["", "", "", ".", "!", " - it's been like this for months", ", it's a disgrace", ", please do something",
           " every single day", ", nobody listens", " thanks", ". Been reported twice."]

TOPICS: dict[str, list[str]] = {
    "lighting": [
        "street lights not working {place}", "it is pitch dark {place} at night", "broken street lamps {place}",
        "more lighting {place}", "the lamps are out {place} and it feels unsafe", "no lights in the alley {place}",
        "dark footpath {place}, needs lights",
        "street lighting {place} is terrible", "lights go off at midnight {place}",
        "the lamp posts {place} have been broken for weeks", "better street lights please",
        "very dim lighting {place} after dark", "cannot see anything walking home {place}, no lights",
        "the subway lighting {place} is always out", "fix the street lights",
    ],
    "roads": [
        "potholes {place}", "the road surface {place} is falling apart", "huge pothole {place} damaged my car",
        "fix the roads", "pavements are cracked and uneven {place}", "resurface the road {place}",
        "tripped on a broken paving slab {place}", "the potholes {place} are dangerous for cyclists",
        "road repairs take forever", "uneven pavement {place}, my mum fell", "fill in the potholes",
        "the tarmac {place} is crumbling", "kerbs broken {place}", "road full of holes {place}",
        "resurfacing the pavements",
    ],
    "litter": [
        "fly tipping {place}", "rubbish everywhere {place}", "bins not emptied on time", "litter {place}",
        "overflowing bins {place}", "bin collections keep being missed", "dumped mattresses {place}",
        "more litter bins {place}", "dog mess and litter {place}", "the recycling was not collected again",
        "people dumping rubbish {place}", "clean the streets, there is litter everywhere",
        "fly-tipped sofas {place} for weeks",
        "the bin men skipped our road", "rubbish bags ripped open by foxes {place}",
    ],
    "parks": [
        "the playground {place} needs new equipment",
        "more benches in the park", "the park {place} is not looked after",
        "grass is never cut {place}", "better parks for children", "keep the green spaces green",
        "plant more trees {place}", "the play area {place} is broken", "the park toilets are always closed",
        "more flowers and trees in our parks", "the swings {place} are broken", "protect the woodland {place}",
        "somewhere for kids to play {place}", "the paddling pool in the park never opens", "look after the parks",
    ],
    "buses": [
        "the buses are always late", "more buses in the evening", "bus {place} never turns up",
        "the bus service {place} was cut", "buses are too expensive", "no bus on Sundays {place}",
        "bus shelter {place} is smashed", "more frequent buses to the hospital", "the number 7 bus is never on time",
        "public transport is useless {place}", "cheaper bus fares for young people", "the last bus leaves too early",
        "bus stop {place} has no timetable", "better bus routes", "waited an hour for the bus {place}",
    ],
    "antisocial": [
        "gangs of youths hanging around {place}", "drug dealing {place}", "antisocial behaviour {place}",
        "more police patrols", "people drinking and shouting {place}", "teenagers on motorbikes {place}",
        "need more police on the streets",
        "drug users in the stairwell {place}", "groups of lads intimidating people {place}",
        "nobody polices the area {place}", "cars stolen and broken into {place}", "people smoking weed {place}",
        "more CCTV and police", "knife crime {place}", "youths throwing stones at buses {place}",
    ],
    "housing": [
        "damp and mould in my flat", "repairs take months", "my boiler has been broken for weeks",
        "the council never fixes the leak in my kitchen",
        "mould in the bedroom again", "the lift in our block is broken",
        "windows do not close properly and let the cold in", "waited months for a repair", "the heating never works",
        "black mould on the walls", "fix the damp in the council houses", "the repairs team never turns up",
        "rent goes up but repairs never happen",
        "water coming through the ceiling", "the front door of the block is broken",
    ],
}

WELSH: dict[str, list[str]] = {
    "lighting": ["goleuadau stryd ddim yn gweithio", "mae'n dywyll iawn ger yr orsaf", "dim golau ar y llwybr",
                 "mwy o oleuadau stryd", "goleuadau wedi torri ar y stryd"],
    "roads": ["tyllau yn y ffordd", "mae'r ffordd yn llawn tyllau", "palmant wedi torri", "trwsio'r ffyrdd",
              "tyllau mawr yn y ffordd ger yr ysgol"],
    "litter": ["sbwriel ym mhobman", "tipio anghyfreithlon", "biniau heb eu gwagio", "mwy o finiau sbwriel",
               "sbwriel yn y stryd"],
    "parks": ["mae angen offer newydd yn y maes chwarae", "mwy o goed yn y parc", "mae'r parc yn flêr",
              "meinciau yn y parc", "gofalu am y parciau"],
    "buses": ["mae'r bysiau yn hwyr bob amser", "mwy o fysiau gyda'r nos", "dim bws ar ddydd Sul",
              "bysiau rhy ddrud", "gwell gwasanaeth bws"],
    "antisocial": ["mwy o heddlu ar y strydoedd", "pobl ifanc yn creu trafferth", "ymddygiad gwrthgymdeithasol",
                   "delio cyffuriau ger y siopau", "mwy o batrolau heddlu"],
    "housing": ["lleithder a llwydni yn y fflat", "atgyweiriadau yn cymryd misoedd", "mae'r boeler wedi torri",
                "llwydni du ar y waliau", "mae'r gwres byth yn gweithio"],
}

POLISH: dict[str, list[str]] = {
    "lighting": ["nie działają latarnie", "bardzo ciemno przy stacji", "więcej oświetlenia ulicznego",
                 "zepsute latarnie na ulicy"],
    "roads": ["dziury w drodze", "naprawić drogi", "chodnik jest zniszczony", "ogromna dziura w jezdni"],
    "litter": ["śmieci wszędzie", "kosze nie są opróżniane", "nielegalne wysypisko śmieci", "więcej koszy na śmieci"],
    "parks": ["nowy plac zabaw w parku", "więcej drzew w parku", "ławki w parku", "park jest zaniedbany"],
    "buses": ["autobusy się spóźniają", "więcej autobusów wieczorem", "autobusy są za drogie",
              "brak autobusu w niedzielę"],
    "antisocial": ["więcej policji na ulicach", "handel narkotykami przy sklepach", "młodzież robi problemy",
                   "więcej patroli policji"],
    "housing": ["wilgoć i pleśń w mieszkaniu", "naprawy trwają miesiącami", "zepsuty bojler",
                "ogrzewanie nie działa"],
}


def _slip(rng: random.Random, text: str) -> str:
    """A resident's typing: sometimes lower case, sometimes a swapped pair of letters."""
    if rng.random() < 0.3:
        text = text.lower()
    if rng.random() < 0.15 and len(text) > 8:
        i = rng.randrange(1, len(text) - 2)
        if text[i].isalpha() and text[i + 1].isalpha():
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text


def _english(rng: random.Random, topic: str) -> str:
    phrase = rng.choice(TOPICS[topic]).replace("{place}", rng.choice(PLACES)).replace("  ", " ").strip()
    opening = rng.choice(OPENINGS)
    text = opening + (phrase if opening else phrase[:1].upper() + phrase[1:]) + rng.choice(ENDINGS)
    return _slip(rng, " ".join(text.split()))


def rows(per_topic: int = PER_TOPIC, seed: int = SEED) -> list[tuple[int, str, str, str]]:
    """(id, topic, language, text) rows; more per topic for the speed benchmark (bench/themes.py)."""
    rng = random.Random(seed)
    out = []
    for topic in TOPICS:
        for _ in range(per_topic):
            roll = rng.random()
            if roll < 0.10:
                text, lang = _slip(rng, rng.choice(WELSH[topic]) + rng.choice(["", "", ".", "!", " plis"])), "cy"
            elif roll < 0.17:
                text, lang = _slip(rng, rng.choice(POLISH[topic]) + rng.choice(["", "", ".", "!", " proszę"])), "pl"
            else:
                text, lang = _english(rng, topic), "en"
            out.append((topic, lang, text))
    rng.shuffle(out)
    return [(i + 1, topic, lang, text) for i, (topic, lang, text) in enumerate(out)]


def main() -> None:
    path = Path(__file__).with_name("themes_labelled.csv")
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "topic", "language", "text"])
        writer.writerows(rows())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
