"""Generate the marking evaluation set, cases.jsonl.

Run: .venv/bin/python tests/data/markings/generate_cases.py

The output is committed; this script documents how it was built and lets it be regenerated. Expected
values come from the registry files (the facts) and the templates below, never from the scanner.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REGISTRY = HERE.parents[2] / "src" / "accord" / "data" / "markings" / "schemes"
RANK = {"NU": 0, "NR": 1, "NC": 2, "NS": 3, "CTS": 4}

PARAGRAPHS = {
    "en": "The convoy of twelve fuel trucks departs the northern depot at 0400 and will refuel at the"
    " forward supply point before noon. Rations and water for three days are loaded on the trailers.",
    "fr": "Le convoi de douze camions-citernes quitte le dépôt nord à 4 heures et sera ravitaillé au point"
    " de soutien avancé avant midi. Les rations et l'eau pour trois jours sont chargées sur les remorques.",
    "de": "Der Konvoi mit zwölf Tankfahrzeugen verlässt das Nordlager um 4 Uhr und wird vor Mittag am"
    " vorgeschobenen Versorgungspunkt betankt. Verpflegung und Wasser für drei Tage sind verladen.",
    "nl": "Het konvooi van twaalf tankwagens vertrekt om 4 uur uit het noordelijke depot en wordt voor de"
    " middag bijgetankt op het voorwaartse bevoorradingspunt. De rantsoenen zijn geladen op de opleggers.",
    "es": "El convoy de doce camiones cisterna sale del depósito norte a las 0400 y repostará en el punto de"
    " apoyo avanzado antes del mediodía. Las raciones y el agua para tres días están cargadas en los"
    " remolques.",
    "pt": "O comboio de doze camiões-cisterna sai do depósito norte às 0400 e será reabastecido no ponto de"
    " apoio avançado antes do meio-dia. As rações e a água para três dias estão carregadas nos reboques.",
    "it": "Il convoglio di dodici autocisterne lascia il deposito nord alle 0400 e sarà rifornito al punto di"
    " supporto avanzato prima di mezzogiorno. Le razioni e l'acqua per tre giorni sono caricate sui"
    " rimorchi.",
    "pl": "Konwój dwunastu cystern wyjeżdża z północnego składu o 4:00 i zostanie zatankowany w wysuniętym"
    " punkcie zaopatrzenia przed południem. Racje i woda na trzy dni są załadowane na przyczepy.",
    "cs": "Konvoj dvanácti cisteren opouští severní sklad ve 4:00 a do poledne bude doplněn na předsunutém"
    " zásobovacím místě. Příděly a voda na tři dny jsou naloženy na přívěsech.",
    "sk": "Konvoj dvanástich cisterien opúšťa severný sklad o 4:00 a pred poludním bude doplnený na"
    " vysunutom zásobovacom mieste. Prídely a voda na tri dni sú naložené na prívesoch.",
    "sl": "Konvoj dvanajstih cistern zapusti severno skladišče ob 4.00 in bo pred poldnevom dotočen na"
    " prednji oskrbovalni točki. Obroki in voda za tri dni so naloženi na prikolice.",
    "hr": "Konvoj od dvanaest cisterni napušta sjeverno skladište u 4:00 i bit će dopunjen na isturenoj"
    " točki opskrbe prije podneva. Obroci i voda za tri dana su utovareni na prikolice.",
    "sr": "Konvoj od dvanaest cisterni napušta sjeverno skladište u 4:00 i biće dopunjen na isturenoj"
    " tački snabdijevanja prije podneva. Obroci i voda za tri dana su utovareni na prikolice.",
    "da": "Konvojen med tolv tankvogne forlader det nordlige depot klokken 4 og bliver tanket op ved det"
    " fremskudte forsyningspunkt før middag. Rationer og vand til tre dage er læsset på anhængerne.",
    "no": "Konvoien med tolv tankbiler forlater det nordlige lageret klokken 4 og blir fylt opp ved det"
    " fremskutte forsyningspunktet før middag. Rasjoner og vann for tre dager er lastet på hengerne.",
    "sv": "Konvojen med tolv tankbilar lämnar det norra förrådet klockan 4 och tankas vid den framskjutna"
    " förrådsplatsen före lunch. Ransoner och vatten för tre dagar är lastade på släpen.",
    "fi": "Kahdentoista säiliöauton saattue lähtee pohjoiselta varikolta kello 4 ja se tankataan"
    " etummaisella huoltopaikalla ennen puoltapäivää. Muonat ja vesi kolmeksi päiväksi on lastattu, ja"
    " kuljettajat on"
    " ohjeistettu, että reitti on auki.",
    "et": "Kaheteistkümne paakauto kolonn lahkub põhjalaost kell 4 ja see tangitakse eesmises"
    " varustuspunktis enne keskpäeva. Toit ja vesi kolmeks päevaks on laaditud ja see on kontrollitud, kui"
    " kolonn on valmis.",
    "lv": "Divpadsmit cisternu kolonna izbrauc no ziemeļu noliktavas plkst. 4 un pirms pusdienlaika tiks"
    " uzpildīta priekšējā apgādes punktā. Pārtika un ūdens trim dienām ir iekrauts, un tas ir pārbaudīts.",
    "lt": "Dvylikos cisternų kolona išvyksta iš šiaurinio sandėlio 4 valandą ir bus papildyta priešakiniame"
    " tiekimo punkte iki vidurdienio. Maistas ir vanduo trims dienoms yra pakrautas, ir tai buvo patikrinta.",
    "hu": "A tizenkét tartálykocsiból álló konvoj hajnali 4-kor indul az északi raktárból, és délig a"
    " előretolt ellátópontnál tankol. Az élelem és a víz három napra fel van rakva, és ez meg van erősítve.",
    "ro": "Convoiul de douăsprezece cisterne pleacă din depozitul de nord la ora 4 și va fi realimentat la"
    " punctul de sprijin avansat înainte de prânz. Rațiile și apa pentru trei zile sunt încărcate în"
    " remorci.",
    "tr": "On iki tankerden oluşan konvoy saat 4'te kuzey deposundan ayrılacak ve öğleden önce ileri ikmal"
    " noktasında yakıt alacak. Üç günlük erzak ve su römorklara yüklendi ve bu kontrol edildi.",
    "sq": "Kolona me dymbëdhjetë autobote niset nga depoja veriore në orën 4 dhe do të furnizohet në pikën"
    " e përparme të furnizimit para mesditës. Ushqimi dhe uji për tre ditë janë ngarkuar në rimorkio.",
    "el": "Η φάλαγγα των δώδεκα βυτιοφόρων αναχωρεί από την βόρεια αποθήκη στις 0400 και θα ανεφοδιαστεί"
    " στο προωθημένο σημείο πριν το μεσημέρι. Τα τρόφιμα και το νερό για τρεις ημέρες είναι φορτωμένα.",
    "bg": "Колоната от дванадесет цистерни напуска северния склад в 4 часа и ще бъде заредена в предния"
    " пункт за снабдяване преди обяд. Храната и водата за три дни са натоварени на ремаркетата.",
    "mk": "Колоната од дванаесет цистерни го напушта северниот магацин во 4 часот и ќе биде наполнета во"
    " предниот пункт за снабдување пред пладне. Храната и водата за три дена се натоварени на приколките.",
    "is": "Bílalestin með tólf tankbílum fer frá norðurbirgðastöðinni klukkan 4 og fær eldsneyti áður en"
    " hádegi kemur. Matur og vatn fyrir þrjá daga hafa verið sett á vagnana.",
}
LABELS = {
    "en": "Classification:",
    "fr": "Classification :",
    "de": "Einstufung:",
    "nl": "Rubricering:",
    "es": "Clasificación:",
    "pt": "Classificação:",
    "it": "Classifica:",
    "pl": "Klauzula:",
    "cs": "Stupeň utajení:",
    "sk": "Stupeň utajenia:",
    "sl": "Stopnja tajnosti:",
    "hr": "Stupanj tajnosti:",
    "sr": "Stepen tajnosti:",
    "da": "Sikkerhedsklassifikation:",
    "no": "Gradering:",
    "sv": "Klassificering:",
    "fi": "Turvallisuusluokka:",
    "et": "Salastatus:",
    "lv": "Slepenības pakāpe:",
    "lt": "Slaptumo žyma:",
    "hu": "Minősítési szint:",
    "ro": "Nivel de clasificare:",
    "tr": "Gizlilik derecesi:",
    "sq": "Niveli i klasifikimit:",
    "el": "Διαβάθμιση:",
    "bg": "Ниво на класификация:",
    "mk": "Степен на тајност:",
}
HOMOGLYPHS = {
    "A": "А",
    "E": "Е",
    "O": "О",
    "C": "С",
    "P": "Р",
    "T": "Т",
    "X": "Х",
    "S": "Ѕ",
    "I": "І",
    "K": "К",
    "M": "М",
    "H": "Н",
    "B": "В",
}
LEET = {"E": "3", "O": "0", "S": "5", "T": "7", "A": "4", "I": "1"}


def load_schemes() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(REGISTRY.glob("*.yaml"))]


def case(
    cid: str,
    text: str,
    category: str,
    kind: str,
    nation: str,
    language: str,
    level: str | None,
    scheme: str | None,
    evasion: str | None = None,
) -> dict[str, object]:
    return {
        "id": cid,
        "text": text,
        "category": category,
        "kind": kind,
        "nation": nation,
        "language": language,
        "expect_marking": level is not None,
        "level": level or "NU",
        "rank": RANK[level or "NU"],
        "scheme": scheme,
        "evasion": evasion,
    }


def header(scheme: dict[str, Any]) -> str:
    words = scheme.get("country_words") or []
    return f"{words[0]}\n" if words and scheme["scheme"] not in ("US", "NATO", "EU") else ""


def plain_cases(schemes: list[dict[str, Any]], rng: random.Random) -> list[dict[str, object]]:
    out = []
    for scheme in schemes:
        code, lang = scheme["scheme"], scheme["languages"][0]
        para = PARAGRAPHS.get(lang, PARAGRAPHS["en"])
        for entry in scheme["markings"]:
            variants = [entry["name"], *[v for v in entry.get("variants", []) if v != entry["name"]]]
            level = entry["level"]
            for n, variant in enumerate(variants):
                vlang = lang
                if code in ("BEL", "FIN") and n == 1:
                    vlang = scheme["languages"][1]
                vpara = PARAGRAPHS.get(vlang, para)
                text = f"{variant}\n\n{header(scheme)}{vpara}\n\n{variant}"
                out.append(
                    case(
                        f"plain-banner-{code}-{entry['name']}-{n}",
                        text,
                        "plain",
                        "banner",
                        code,
                        vlang,
                        level,
                        code,
                    )
                )
            label = LABELS.get(lang, "Classification:")
            text = f"{header(scheme)}{label} {entry['name']}\n\n{para}"
            out.append(
                case(f"plain-stamp-{code}-{entry['name']}", text, "plain", "stamp", code, lang, level, code)
            )
            text = f"{entry['name']}        1 / 3\n{header(scheme)}\n{para}\n\n{entry['name']}        1 / 3"
            out.append(
                case(
                    f"plain-header-{code}-{entry['name']}",
                    text,
                    "plain",
                    "header_footer",
                    code,
                    lang,
                    level,
                    code,
                )
            )
    capco = [
        ("TOP SECRET//SI//NOFORN", "CTS"),
        ("TOP SECRET//COMINT//ORCON,NOFORN", "CTS"),
        ("SECRET//NOFORN", "NS"),
        ("SECRET//REL TO USA, GBR, NATO", "NS"),
        ("CONFIDENTIAL//REL TO USA, FVEY", "NC"),
        ("TOP SECRET//SI/TK//NOFORN", "CTS"),
        ("SECRET//RD", "NS"),
        ("SECRET//FRD//NOFORN", "NS"),
        ("TOP SECRET//HCS//ORCON/NOFORN", "CTS"),
        ("SECRET//ORCON//REL TO USA, AUS, CAN, GBR, NZL", "NS"),
    ]
    for n, (banner, level) in enumerate(capco):
        body = PARAGRAPHS["en"]
        portion = "TS" if level == "CTS" else level[1]
        text = f"{banner}\n\n(U) Logistics summary.\n({portion}//NF) {body}\n\n{banner}"
        out.append(case(f"plain-capco-{n}", text, "plain", "banner", "US", "en", level, "US"))
        text = f"Forwarding the note below. {banner} The convoy departs at 0400 from Gate 3."
        out.append(case(f"plain-capco-inline-{n}", text, "plain", "inline", "US", "en", level, "US"))
    portions = [
        ("(TS)", "CTS", "US"),
        ("(S)", "NS", "US"),
        ("(C)", "NC", "US"),
        ("(S//NF)", "NS", "US"),
        ("(TS//SI//NF)", "CTS", "US"),
        ("(S//REL TO USA, GBR)", "NS", "US"),
        ("(NS)", "NS", "NATO"),
        ("(NR)", "NR", "NATO"),
        ("(NC)", "NC", "NATO"),
        ("(CTS)", "CTS", "NATO"),
        ("(NATO-S)", "NS", "NATO"),
        ("(UK-C)", "NC", "UK"),
        ("(//NS)", "NS", "NATO"),
        ("(//CTS)", "CTS", "NATO"),
    ]
    sentences = [
        "The convoy departs the northern depot at 0400.",
        "Fuel for three days is loaded on the trailers.",
        "The route via Gate 3 is closed after 2200.",
        "Two recovery vehicles follow the last serial.",
    ]
    for n, (mark, level, owner) in enumerate(portions):
        paragraph = rng.sample(sentences, 3)
        first, second, third = paragraph
        text = f"Subject: Movement order 14\n\n{mark} {first}\n\n(U) {second}\n\n{mark} {third}"
        out.append(case(f"plain-portion-{n}", text, "plain", "portion", owner, "en", level, owner))
    blocks = [
        "Classified By: J. Smith, Director of Operations\nDerived From: Multiple Sources\nDeclassify On:"
        " 20501231",
        "Classified By: 0123456\nReason: 1.4(a)\nDeclassify On: 25X1",
        "CLASSIFIED BY: Chief, Logistics Division\nDERIVED FROM: OPNAVINST 5513.1\nDECLASSIFY ON: 20401231",
    ]
    for n, block in enumerate(blocks):
        text = f"MEMORANDUM FOR THE RECORD\n\n{block}\n\n{PARAGRAPHS['en']}"
        out.append(case(f"plain-authority-{n}", text, "plain", "authority_block", "US", "en", "NC", "US"))
    return out


def _spaced(s: str) -> str:
    return " ".join(s.replace(" ", "  "))


def _homoglyph(s: str) -> str:
    return "".join(HOMOGLYPHS.get(c, c) if i % 2 == 0 else c for i, c in enumerate(s))


def _leet(s: str) -> str:
    return "".join(LEET.get(c, c) for c in s)


def _zero_width(s: str) -> str:
    return "\u200b".join(s)


def _soft_hyphen(s: str) -> str:
    return "\u00ad".join(s)


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in s)


def _math_bold(s: str) -> str:
    return "".join(chr(0x1D400 + ord(c) - 65) if "A" <= c <= "Z" else c for c in s)


def _split(s: str) -> str:
    if " " in s:
        return s.replace(" ", "\n", 1)
    middle = len(s) // 2
    return s[:middle] + "-\n" + s[middle:]


def _strike(s: str) -> str:
    return "".join(c + "\u0336" for c in s)


TRANSFORMS = {
    "homoglyph": _homoglyph,
    "spaced": _spaced,
    "leetspeak": _leet,
    "zero_width": _zero_width,
    "soft_hyphen": _soft_hyphen,
    "unicode_compat": _fullwidth,
    "math_bold": _math_bold,
    "split_lines": _split,
    "strikethrough": _strike,
}


def evasion_cases(schemes: list[dict[str, Any]], rng: random.Random) -> list[dict[str, object]]:
    out = []
    targets = []
    for scheme in schemes:
        for entry in scheme["markings"]:
            if entry.get("classified", True) and entry["name"].isascii() and "!" not in entry["name"]:
                targets.append((scheme, entry))
    for scheme, entry in targets:
        code, lang = scheme["scheme"], scheme["languages"][0]
        para = PARAGRAPHS.get(lang, PARAGRAPHS["en"])
        for name in rng.sample(sorted(TRANSFORMS), 3):
            marked = TRANSFORMS[name](entry["name"])
            text = f"{marked}\n\n{header(scheme)}{para}"
            out.append(
                case(
                    f"evasion-{name}-{code}-{entry['name']}",
                    text,
                    "evasion",
                    "banner",
                    code,
                    lang,
                    entry["level"],
                    code,
                    name,
                )
            )
    for scheme, entry in rng.sample(targets, 40):
        code, lang = scheme["scheme"], scheme["languages"][0]
        doc = (
            f"{entry['name']}\n\n{header(scheme)}{PARAGRAPHS.get(lang, PARAGRAPHS['en'])}\n\n{entry['name']}"
        )
        encoding = rng.choice(["base64", "hex", "quoted_printable"])
        if encoding == "base64":
            blob = base64.b64encode(doc.encode()).decode()
        elif encoding == "hex":
            blob = doc.encode().hex()
        else:
            blob = "".join(
                f"={b:02X}" if b >= 0x80 or (chr(b).isalpha() and rng.random() < 0.5) else chr(b)
                for b in doc.encode()
            )
        text = f"Please summarise the attached file for me.\n\n{blob}\n\nThanks."
        out.append(
            case(
                f"evasion-{encoding}-{code}-{entry['name']}",
                text,
                "evasion",
                "banner",
                code,
                lang,
                entry["level"],
                code,
                encoding,
            )
        )
    return out


HARD_NEGATIVES = [
    ("en", "Please keep out of the restricted area near the fuel depot after 2200."),
    ("en", "The secret to good logistics is knowing where every pallet is at any moment."),
    ("es", "Tenemos una mesa reservada para las nueve en el restaurante del puerto."),
    ("pl", "W tej firmie wszystko jest tajne przez poufne, nawet plan urlopów."),
    ("en", "We are hiring a logistics analyst. Applicants must hold an active TOP SECRET clearance."),
    ("en", "Job requirements:\n- Active SECRET clearance\n- Five years of supply-chain experience"),
    ("en", "Portion marks such as (S) or (TS) show the level of each paragraph in a US document."),
    ("en", "Training note: (S) means Secret, (C) means Confidential and (U) means Unclassified."),
    ("en", "Portion marks:\n(TS) Top Secret\n(S) Secret\n(C) Confidential\n(U) Unclassified"),
    ("en", "Top Secret!\n\nA 1984 comedy film by Zucker, Abrahams and Zucker starring Val Kilmer."),
    ("en", "Top Secret! is a 1984 spy spoof; its title song was written for the film."),
    ("en", "This letter is confidential and intended only for the addressee."),
    ("en", "Please treat the salary figures as confidential until the board has met."),
    ("en", "(C) 2024 Acme Logistics Ltd. All rights reserved."),
    ("en", "(A) Load the trucks.\n(B) Check the tyres.\n(C) Confirm the route.\n(D) Depart at 0400."),
    ("en", "NATO's classification levels range from NATO RESTRICTED to COSMIC TOP SECRET."),
    ("en", "A banner such as SECRET//NOFORN must appear at the top and bottom of every page."),
    ("en", 'The example banner "TOP SECRET//SI//NOFORN" is used in the training slides.'),
    ("en", "Secret\n\nShe kept the secret for twenty years, until the letter arrived."),
    ("en", "The Secret Garden is a novel by Frances Hodgson Burnett."),
    ("en", "Victoria's Secret opened a new store near the station."),
    ("en", "The Secret Service protects the president during the visit."),
    ("en", "The secretary confirmed the meeting with the confidential informant."),
    (
        "en",
        "NATO classification levels:\n- NATO RESTRICTED\n- NATO CONFIDENTIAL\n- NATO SECRET\n- COSMIC"
        " TOP SECRET",
    ),
    ("en", "The ministry said the report was secret and would not be published."),
    ("de", "Das Rezept bleibt streng geheim, sagte der Koch lachend."),
    ("de", "Unser Geheimtipp: das kleine Café am Hafen."),
    ("fr", "C'est un secret de polichinelle : tout le monde connaît le résultat."),
    ("fr", "La diffusion restreinte du film a limité son succès en salles."),
    ("it", "Il documento è riservato ai soci del club."),
    ("it", "Il suo segreto è la pazienza."),
    ("pt", "O lugar está reservado para a professora."),
    ("es", "El secreto del éxito es la constancia."),
    ("nl", "Het recept is geheim, maar de taart is lekker."),
    ("da", "Det er hemmeligt, hvad der står i brevet."),
    ("sv", "Det är hemligt vad presenten är."),
    ("no", "Det er hemmelig hva gaven er."),
    ("cs", "To je tajné, nikomu to neříkej."),
    ("hr", "To je tajno, nemoj nikome reći."),
    ("sl", "To je tajno, ne povej nikomur."),
    ("tr", "Bu gizli bir tarif, kimseye söyleme."),
    ("el", "Το μυστικό της επιτυχίας είναι η υπομονή."),
    ("bg", "Тайната на успеха е търпението."),
    ("ro", "Este un secret bine păstrat în familie."),
    ("hu", "Ez titkos recept, senkinek ne mondd el."),
    ("en", "The interno department handles interior design projects."),
    ("en", "The level of official support for the project was high."),
    ("en", "Protected bike lanes are planned for the city centre."),
    ("en", "DECLASSIFIED\nSECRET\n\nThe convoy departed at 0400 in March 1962. Approved for public release."),
    (
        "en",
        "DECLASSIFIED/DECLASSIFIÉ - PUBLIC DISCLOSED/MISE EN LECTURE PUBLIQUE\nNATO SECRET\n\nThe 1975"
        " exercise report.",
    ),
    (
        "en",
        "Approved for Release 2001/08/09 : CIA-RDP79T00975A000100010001-2\nTOP SECRET\n\nDaily bulletin"
        " summary.",
    ),
    (
        "en",
        "Declassified in Part - Sanitized Copy Approved for Release 2013/04/05\nSECRET\n\nSupply report"
        " for 1960.",
    ),
    ("en", "We watched Top Secret and Spies Like Us on movie night."),
    ("en", "SECRET INGREDIENTS\n\nFlour, sugar, butter and a pinch of salt."),
    ("en", "Q: Which marking is correct? a) SECRET//NOFORN b) SECRET/NOFORN"),
    ("en", "The user(s) must sign the form (S) if required by the supervisor."),
    ("en", "See section (S) of the appendix for the list of suppliers."),
    ("en", "He said: 'It's top secret, don't tell anyone' and laughed."),
    ("en", "Official opening hours: 9:00 to 17:00."),
    ("en", "Restricted\n\nThis area is restricted to authorised vehicles only."),
    ("en", "CONFIDENTIAL FILES (2019) is a documentary about data leaks."),
    ("en", "The cleared personnel list must be updated. Clearance: SECRET, expires 2027."),
    ("es", "El Reservado de la bodega es un vino tinto excelente."),
    ("pt", "Quarto reservado para dois hóspedes."),
    ("it", "Posto riservato: non sedersi."),
    ("pl", "Wszelkie prawa zastrzeżone. Kopiowanie zabronione."),
    ("cs", "Všechna práva vyhrazena."),
    ("sv", "Konfidentiell information ska hanteras varsamt, sade hon."),
    ("fi", "Se on salainen resepti, älä kerro kenellekään."),
    ("lv", "Tas ir slepeni, nevienam nesaki."),
    ("lt", "Tai slaptai laikoma paslaptis."),
    ("et", "See on salajane retsept."),
    ("sq", "Ky është një sekret i vogël."),
]


EN = PARAGRAPHS["en"]
# Hand-written cases in realistic layouts (email headers, signatures, memo formats); (level, scheme, kind).
EXTRA_POSITIVES: list[tuple[str, str, str, str, str]] = [
    (
        f"From: j.smith@example.mil\nTo: ops@example.mil\nSubject: fuel\n\nSECRET//NOFORN\n\n{EN}",
        "NS",
        "US",
        "banner",
        "en",
    ),
    (
        f"From: j.smith@example.mil\nSubject: fuel\n\nSECRET\n\n(S) {EN}\n\n(U) Weather is fair.",
        "NS",
        "US",
        "banner",
        "en",
    ),
    (f"(S) {EN}\n\n(C) Two recovery vehicles follow the last serial.", "NS", "US", "portion", "en"),
    (
        f"Dear colleagues,\n\n{EN}\n\nRegards,\nJ. Smith\nClassification: NATO RESTRICTED",
        "NR",
        "NATO",
        "stamp",
        "en",
    ),
    (f"NATO UNCLASSIFIED\n\nAC/35-D/2002-REV4\n\n{EN}", "NU", "NATO", "banner", "en"),
    (f"OFFICIAL-SENSITIVE: COMMERCIAL\n\n{EN}", "NU", "UK", "banner", "en"),
    (f"UK SECRET - UK EYES ONLY\n\nMinistry of Defence\n\n{EN}", "NS", "UK", "banner", "en"),
    (f"SECRET - UK EYES ONLY\n\nMinistry of Defence\n\n{EN}", "NS", "UK", "banner", "en"),
    (f"VS – NUR FÜR DEN DIENSTGEBRAUCH\n\n{PARAGRAPHS['de']}", "NR", "DEU", "banner", "de"),
    (f"nato secret\n\n{EN}", "NS", "NATO", "banner", "en"),
    (f"S E C R E T\n\n{EN}", "NS", "US", "banner", "en"),
    (f"TAJNE\nEgz. nr 1\n\n{PARAGRAPHS['pl']}", "NS", "POL", "banner", "pl"),
    (f"SECRET\n\n{PARAGRAPHS['fr']}", "NS", "FRA", "banner", "fr"),
    (f"SECRET\n\n{PARAGRAPHS['ro']}", "NC", "ROU", "banner", "ro"),
    (f"AΠOΡΡHTO\n\n{PARAGRAPHS['el']}", "NS", "GRC", "banner", "el"),
    (f"GEHEIM\n\nBundesministerium der Verteidigung\n\n{PARAGRAPHS['de']}", "NS", "DEU", "banner", "de"),
    (f"STG. GEHEIM\n\n{PARAGRAPHS['nl']}", "NS", "NLD", "banner", "nl"),
    (f"{PARAGRAPHS['it']}\n\nRISERVATO", "NR", "ITA", "banner", "it"),
    (
        f"Page 1 of 4                    NATO SECRET\n\n{EN}\n\nPage 1 of 4                    NATO SECRET",
        "NS",
        "NATO",
        "header_footer",
        "en",
    ),
    (
        f"MEMORANDUM FOR RECORD\n\nTOP SECRET//SI//TK//NOFORN\n\n(TS//SI//NF) {EN}",
        "CTS",
        "US",
        "banner",
        "en",
    ),
    (f"CUI//SP-EXPT//NOFORN\n\n{EN}", "NU", "US", "banner", "en"),
    (f"PROTECTED B\n\nGovernment of Canada\n\n{EN}", "NU", "CAN", "banner", "en"),
    (f"RESTREINT UE / EU RESTRICTED\n\n{EN}", "NR", "EU", "banner", "en"),
    (f"TRÈS SECRET UE / EU TOP SECRET\n\n{EN}", "CTS", "EU", "banner", "en"),
    (f"**NATO CONFIDENTIAL**\n\n{EN}", "NC", "NATO", "banner", "en"),
    (f"# COSMIC TOP SECRET\n\n{EN}", "CTS", "NATO", "banner", "en"),
    (f"Ref: LOG/2026/114        NATO RESTRICTED\n\n{EN}", "NR", "NATO", "header_footer", "en"),
    (f"СЕКРЕТНО\nЕкз. № 1\n\n{PARAGRAPHS['bg']}", "NS", "BGR", "banner", "bg"),
    (f"ÇOK GİZLİ\n\n{PARAGRAPHS['tr']}", "CTS", "TUR", "banner", "tr"),
    (f"DIFUSIÓN LIMITADA\n\nMinisterio de Defensa\n\n{PARAGRAPHS['es']}", "NR", "ESP", "banner", "es"),
]
EXTRA_EVASIONS: list[tuple[str, str, str, str]] = [
    (f"NАТО SЕСRЕТ\n\n{EN}", "NS", "NATO", "homoglyph"),
    (f"N\u200bA\u200bT\u200bO S\u200bE\u200bC\u200bR\u200bE\u200bT\n\n{EN}", "NS", "NATO", "zero_width"),
    (f"T0P S3CR3T//N0F0RN\n\n{EN}", "CTS", "US", "leetspeak"),
    (f"C O S M I C   T O P   S E C R E T\n\n{EN}", "CTS", "NATO", "spaced"),
    (f"NATO SEC-\nRET\n\n{EN}", "NS", "NATO", "split_lines"),
    (f"𝐍𝐀𝐓𝐎 𝐑𝐄𝐒𝐓𝐑𝐈𝐂𝐓𝐄𝐃\n\n{EN}", "NR", "NATO", "math_bold"),
    (f"ＶＳ－ＶＥＲＴＲＡＵＬＩＣＨ\n\n{PARAGRAPHS['de']}", "NC", "DEU", "unicode_compat"),
    (f"N.A.T.O. S.E.C.R.E.T\n\n{EN}", "NS", "NATO", "spaced"),
    (f"nAtO sEcReT\n\n{EN}", "NS", "NATO", "mixed_case"),
    (f"S\u00adE\u00adC\u00adR\u00adE\u00adT//NOFORN\n\n{EN}", "NS", "US", "soft_hyphen"),
]


def extra_cases() -> list[dict[str, object]]:
    out = []
    for n, (text, level, scheme, kind, lang) in enumerate(EXTRA_POSITIVES):
        out.append(case(f"extra-plain-{n}", text, "plain", kind, scheme, lang, level, scheme))
    for n, (text, level, scheme, evasion) in enumerate(EXTRA_EVASIONS):
        out.append(
            case(f"extra-evasion-{n}", text, "evasion", "banner", scheme, "en", level, scheme, evasion)
        )
    mime = base64.encodebytes(f"NATO SECRET\n\n{EN}\n\nNATO SECRET".encode()).decode()
    out.append(
        case(
            "extra-evasion-mime",
            f"Attachment:\n{mime}\nEnd.",
            "evasion",
            "banner",
            "NATO",
            "en",
            "NS",
            "NATO",
            "base64",
        )
    )
    spaced_hex = " ".join(f"{b:02x}" for b in f"SECRET//NOFORN\n{EN}".encode())
    out.append(
        case("extra-evasion-hex", f"dump: {spaced_hex}", "evasion", "banner", "US", "en", "NS", "US", "hex")
    )
    nested = base64.b64encode(base64.b64encode(f"COSMIC TOP SECRET\n\n{EN}".encode())).decode()
    out.append(
        case(
            "extra-evasion-nested",
            f"payload={nested}",
            "evasion",
            "banner",
            "NATO",
            "en",
            "CTS",
            "NATO",
            "base64",
        )
    )
    return out


EXTRA_NEGATIVES = [
    (
        "en",
        "CONFIDENTIAL\n\nDear Mr Smith,\n\nPlease find attached our proposal for the warehouse contract. "
        "This letter is intended for the addressee only.\n\nKind regards,\nAcme Logistics Ltd",
    ),
    ("en", "PRIVILEGED & CONFIDENTIAL\nAttorney-client communication\n\nThe settlement terms are attached."),
    ("en", "TOP SECRET\n\nDon't tell anyone about the surprise party for Anna on Friday!"),
    ("en", "The document was marked SECRET//NOFORN, according to the court filing, and was later released."),
    ("en", "Q: What is a portion mark?\nA: A mark such as (S) or (C) placed at the start of a paragraph."),
    ("en", "| Level | Abbreviation |\n|---|---|\n| NATO SECRET | NS |\n| NATO CONFIDENTIAL | NC |"),
    ("en", "Subject: Secret Santa\n\nHi all, names for the Secret Santa draw are due on Monday."),
    ("en", "SECRET OF MANA is a 1993 action role-playing game."),
    ("en", "Operation details are classified, the spokesman said, declining to comment further."),
    ("de", "Die Einstufung GEHEIM gilt für Informationen, deren Kenntnis die Sicherheit gefährden kann."),
    ("pl", "Klauzula „tajne” oznacza informacje, których ujawnienie spowoduje poważną szkodę."),
    ("en", "The Official Secrets Act 1989 governs disclosure by Crown servants."),
    ("en", "Classified ads: bicycle for sale, 50 EUR. Call after 6pm."),
    ("en", "Use the restricted mode on the tablet so the children cannot install apps."),
    (
        "en",
        "1. SECRET\n2. CONFIDENTIAL\n3. RESTRICTED\nThese are the three legacy levels in the course.",
    ),
]


def negative_cases(rng: random.Random) -> list[dict[str, object]]:
    out = []
    for n, (lang, text) in enumerate(HARD_NEGATIVES):
        out.append(case(f"negative-{n}", text, "hard_negative", "none", "-", lang, None, None))
        para = PARAGRAPHS.get(lang, PARAGRAPHS["en"])
        out.append(
            case(
                f"negative-ctx-{n}",
                f"{para}\n\n{text}\n\n{para}",
                "hard_negative",
                "none",
                "-",
                lang,
                None,
                None,
            )
        )
    for n, (lang, text) in enumerate(EXTRA_NEGATIVES):
        out.append(case(f"extra-negative-{n}", text, "hard_negative", "none", "-", lang, None, None))
    for n, (lang, para) in enumerate(sorted(PARAGRAPHS.items())):
        out.append(case(f"negative-clean-{n}", para, "hard_negative", "none", "-", lang, None, None))
    return out


def main() -> None:
    rng = random.Random(20261126)
    schemes = load_schemes()
    cases = plain_cases(schemes, rng) + evasion_cases(schemes, rng) + extra_cases() + negative_cases(rng)
    with (HERE / "cases.jsonl").open("w", encoding="utf-8") as handle:
        for item in cases:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
