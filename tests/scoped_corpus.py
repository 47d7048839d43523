"""A second folder of documents on other topics than the shipped corpus, for the scoped-question tests.

Folders (``contracts/``, ``contracts/2024/``, ``recipes/``, ``sky/``) and three languages, each
document long enough for several passages, so that a scope can hold more than k of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.services import Services

LEASE = """# Residential lease of the flat at 14 Harbour Street

## Parties and term
This lease is made between Margaret Ellison, the landlord, and Thomas Reed, the tenant. The term of
the lease is twelve months, starting on the first of March 2024 and ending on the last day of
February 2025. The tenant may renew the lease for a further twelve months by written notice.

## Rent and deposit
The monthly rent is 1,250 pounds, payable in advance on the first working day of each month by bank
transfer. The security deposit is 2,500 pounds, equal to two months of rent. The landlord keeps the
deposit in a government-approved protection scheme and returns it within thirty days after the end
of the lease, less the cost of any damage beyond normal wear and tear.

## Repairs and maintenance
The landlord is responsible for the structure of the building, the roof, the boiler, the plumbing
and the electrical wiring. The tenant keeps the interior clean, replaces light bulbs and fuses, and
reports any leak or fault to the landlord within two days of noticing it. The landlord may enter
the flat for an inspection after giving twenty-four hours of notice in writing.

## Ending the lease
Either party may end the lease after the first six months by giving two months of written notice.
The tenant who leaves before the end of the term without notice owes the rent until a new tenant
is found, for at most three months. Pets are allowed only with the written consent of the landlord,
and smoking is not allowed anywhere in the flat or on its balcony.
"""

SUPPLY = """# Contratto di fornitura di caffè tra Torrefazione Aurora e Bar Centrale

## Oggetto del contratto
La Torrefazione Aurora si impegna a fornire al Bar Centrale quaranta chilogrammi di caffè in grani
ogni mese, della miscela chiamata Aurora Oro, composta per il settanta per cento da arabica e per il
trenta per cento da robusta. La consegna avviene il primo lunedì di ogni mese presso il locale.

## Prezzo e pagamento
Il prezzo concordato è di diciotto euro al chilogrammo, IVA esclusa. Il Bar Centrale paga ogni
fornitura entro trenta giorni dalla data della fattura, con bonifico bancario. In caso di ritardo
nel pagamento si applicano gli interessi di mora previsti dalla legge.

## Macchina da caffè in comodato
La torrefazione concede in comodato d'uso gratuito una macchina da caffè a due gruppi e un macinino.
La manutenzione ordinaria della macchina è a carico della torrefazione, che interviene entro
quarantotto ore da ogni chiamata. Il bar si impegna a usare soltanto il caffè della torrefazione.

## Durata e recesso
Il contratto dura tre anni e si rinnova tacitamente per un altro anno, salvo disdetta inviata con
raccomandata almeno sei mesi prima della scadenza. Se il bar recede prima della scadenza, restituisce
la macchina e paga una penale di mille euro per ogni anno mancante.
"""

RENEWAL = """# Renewal of the cleaning services agreement, 2024

The agreement between Brightway Cleaning and the Northfield Library is renewed for the year 2024.
Brightway cleans the reading rooms every weekday evening after closing time, and the entrance hall,
the stairs and the lift twice a day. The windows are washed inside and outside once a month.

The yearly fee rises from 31,000 to 32,400 pounds, an increase of about four and a half per cent,
paid in four equal instalments at the end of each quarter. Brightway supplies its own cleaning
products, which must carry an environmental label, and it trains its staff to handle rare books.

If a room is not cleaned to the agreed standard, the library reports it within one day and
Brightway cleans it again at no cost before the library opens. Three such reports in one quarter
allow the library to withhold ten per cent of that quarter's instalment.
"""

RISOTTO = """Risotto alla milanese: la ricetta tradizionale

Il risotto alla milanese è il piatto simbolo di Milano, famoso per il suo colore giallo dorato che
viene dallo zafferano. Per quattro persone servono trecentoventi grammi di riso Carnaroli, un litro
e mezzo di brodo di carne caldo, una cipolla bianca, ottanta grammi di burro, mezzo bicchiere di vino
bianco secco, una bustina di zafferano in polvere e settanta grammi di Grana Padano grattugiato.

Si trita finemente la cipolla e la si fa appassire in metà del burro a fuoco dolce. Si aggiunge il
riso e lo si tosta per due minuti, mescolando, finché i chicchi diventano lucidi. Si sfuma con il
vino bianco e, quando è evaporato, si comincia ad aggiungere il brodo un mestolo alla volta.

Dopo circa dieci minuti si scioglie lo zafferano in un poco di brodo e lo si unisce al riso. La
cottura dura in tutto diciotto minuti. A fuoco spento si manteca il risotto con il burro rimasto e
il formaggio, si copre e si lascia riposare due minuti prima di servirlo, ben all'onda.

Secondo la tradizione il risotto giallo si accompagna all'ossobuco. Una leggenda racconta che lo
zafferano fu aggiunto al riso nel 1574 da un apprendista vetraio che lavorava alle vetrate del Duomo.
"""

TART = """La tarte Tatin, une tarte aux pommes renversée

La tarte Tatin est née à la fin du dix-neuvième siècle à Lamotte-Beuvron, en Sologne, dans l'hôtel
tenu par les sœurs Stéphanie et Caroline Tatin. Selon la légende, Stéphanie aurait oublié de mettre
la pâte au fond du moule et l'aurait posée sur les pommes, avant de retourner la tarte après cuisson.

Pour six personnes, il faut huit pommes Reinette ou Golden, cent grammes de beurre, cent cinquante
grammes de sucre et une pâte brisée. On fait fondre le beurre et le sucre dans un moule allant au
four jusqu'à obtenir un caramel blond, puis on dispose les pommes coupées en quartiers bien serrés.

On laisse cuire les pommes vingt minutes sur le feu, puis on recouvre le moule avec la pâte en
rentrant les bords. La tarte cuit ensuite trente minutes dans un four à deux cents degrés. On la
démoule encore tiède en la retournant sur un plat, pour que le caramel ne durcisse pas.

On sert la tarte Tatin tiède, avec de la crème fraîche épaisse ou une boule de glace à la vanille.
Elle se garde un jour à température ambiante, mais elle est bien meilleure le jour même.
"""

MOON = """The Moon, Earth's only natural satellite

The Moon orbits Earth at an average distance of about 384,400 kilometres and completes one orbit in
about 27.3 days. Because it rotates once on its axis in the same time, it always shows the same face
to Earth. Its diameter is 3,474 kilometres, a little more than a quarter of Earth's diameter.

The most widely accepted explanation of its origin is the giant-impact hypothesis: about 4.5 billion
years ago a body the size of Mars, often called Theia, struck the young Earth, and the debris thrown
into orbit gathered into the Moon. Samples brought back by the Apollo missions support this idea.

The dark plains that can be seen with the naked eye are called maria, from the Latin word for seas.
They are basalt plains formed by ancient volcanic eruptions. The brighter highlands are older and
covered with craters left by billions of years of impacts.

Twelve astronauts walked on the Moon between 1969 and 1972, during six Apollo missions. Neil
Armstrong was the first, on the twentieth of July 1969. The Moon's gravity raises the tides on
Earth, and it slowly moves away from us, by about 3.8 centimetres every year.
"""

DOCUMENTS = {
    "contracts/lease.md": LEASE,
    "contracts/fornitura-caffe.md": SUPPLY,
    "contracts/2024/cleaning-renewal.md": RENEWAL,
    "recipes/risotto.txt": RISOTTO,
    "recipes/tarte-tatin.txt": TART,
    "sky/moon.txt": MOON,
}
"""Document id (under the folder) -> text."""

LANGUAGES = {
    "contracts/lease.md": "en",
    "contracts/fornitura-caffe.md": "it",
    "contracts/2024/cleaning-renewal.md": "en",
    "recipes/risotto.txt": "it",
    "recipes/tarte-tatin.txt": "fr",
    "sky/moon.txt": "en",
}

QUESTIONS = [
    "How much is the security deposit for the flat?",
    "Who is responsible for repairing the boiler?",
    "Quanto costa il caffè al chilogrammo?",
    "Quanto dura il contratto di fornitura?",
    "How much is the yearly cleaning fee in 2024?",
    "Quanto riso serve per il risotto alla milanese?",
    "Combien de pommes faut-il pour la tarte Tatin?",
    "Qui a inventé la tarte Tatin?",
    "How far is the Moon from Earth?",
    "Who was the first person to walk on the Moon?",
    "Can the tenant keep a pet?",
    "Che cosa dà il colore giallo al risotto?",
]
"""Questions about the second folder (in its three languages)."""


def write_second_folder(root: Path) -> Path:
    """Write the documents under ``root`` (created) and return it."""
    for doc_id, text in DOCUMENTS.items():
        path = root / doc_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def scoped_services(base: Path, embedding_cache: Path, chroma_env: dict[str, str]) -> Services:
    """Services over a fresh index of the shipped corpus (``corpus/``) plus the second folder (``extra/``)."""
    import os
    import shutil

    import pytest
    from conftest import CLOSED_PORT_URL, CORPUS, shared_gguf

    from assistant.config import load_settings
    from assistant.services import build_services

    (base / "corpus").mkdir(parents=True)
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, base / "corpus" / path.name)
    write_second_folder(base / "extra")
    env = {
        "ASSISTANT_DATA_DIR": str(base / "data"),
        "ASSISTANT_LLM__BACKEND": "embedded",
        "ASSISTANT_OLLAMA__HOST": CLOSED_PORT_URL,
        "ASSISTANT_EMBEDDING__CACHE_DIR": str(embedding_cache),
        "ASSISTANT_EMBEDDED__MODEL_PATH": str(shared_gguf()),
        **chroma_env,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        patch.chdir(base)
        settings = load_settings(corpus_paths=[base / "corpus", base / "extra"])
    services = build_services(settings)
    report = services.ingest()
    assert len(report.added) == 5 + len(DOCUMENTS), report
    return services
