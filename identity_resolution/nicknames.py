"""Nicknames and short forms of English first names, and the long names each may stand for.

Two sources, merged: the `nicknames` package (a hand-curated data set of about 1,100 English
names and their nicknames, kept outside this project) and the groups below, which add forms it
lacks (spellings such as Fredric, the same name in another language such as Gwilym for William).
The table is evidence that two given names *may* be one person's (Bob and Robert, Chris and
Christina), read in both directions, never a rule that they are: Chris is as often a
Christopher as a Christina, and Sandra is a name in its own right, so names are never replaced
by one canonical form. A nickname can belong to several names (`fred`: alfred, frederick):
`NICKNAMES` keeps every candidate. Keys and values are lower-case ASCII, as produced by
`normalise_name`.
"""

from __future__ import annotations

from nicknames import NickNamer

_OWN_GROUPS: dict[str, tuple[str, ...]] = {
    "frederick": ("fred", "freddie", "freddy", "fritz", "frederic", "fredrick", "fredric"),
    "abigail": ("abby", "abbie", "gail"),
    "abraham": ("abe", "bram"),
    "albert": ("al", "bert", "bertie"),
    "alexander": ("alex", "alec", "alick", "sandy", "xander", "lex"),
    "alexandra": ("alex", "alexa", "alexis", "lexi", "lexie", "sasha", "xandra", "sandra"),
    "alfred": ("alf", "alfie", "fred", "freddie", "freddy"),
    "alice": ("ali", "allie", "alicia"),
    "allison": ("allie", "ally"),
    "amanda": ("mandy", "manda"),
    "andrew": ("andy", "drew", "andie"),
    "angela": ("angie",),
    "anne": ("ann", "annie", "nan", "nancy", "anna", "annette"),
    "anthony": ("tony", "ant", "anton"),
    "archibald": ("archie", "arch"),
    "arnold": ("arnie", "arny"),
    "arthur": ("art", "artie"),
    "augustus": ("gus", "augie"),
    "barbara": ("barb", "barbie", "babs"),
    "bartholomew": ("bart", "barty"),
    "benjamin": ("ben", "benny", "benji", "benjy"),
    "bernard": ("bernie", "barney"),
    "beverly": ("bev",),
    "bradley": ("brad",),
    "bridget": ("biddy", "bridie", "brigid"),
    "calvin": ("cal",),
    "cameron": ("cam",),
    "caroline": ("carol", "carrie", "lina", "carolyn"),
    "catherine": (
        "cathy",
        "cath",
        "cate",
        "kate",
        "katie",
        "kathy",
        "kay",
        "kitty",
        "katherine",
        "kathryn",
        "katharine",
        "catharine",
        "kat",
        "katy",
        "kathleen",
        "caitlin",
    ),
    "charles": ("charlie", "chuck", "chas", "chaz", "chip", "carl"),
    "charlotte": ("lottie", "lotte", "charlie", "char"),
    "christina": (
        "chris",
        "chrissy",
        "christy",
        "tina",
        "kristina",
        "christine",
        "kristin",
        "kristen",
        "kirsten",
    ),
    "christopher": ("chris", "kit", "topher", "cris", "kristopher"),
    "clarence": ("clare",),
    "clifford": ("cliff",),
    "cornelius": ("neil", "connie"),
    "cynthia": ("cindy", "cyndi"),
    "daniel": ("dan", "danny", "dannie"),
    "david": ("dave", "davey", "davy", "davie"),
    "deborah": ("deb", "debbie", "debby", "debra"),
    "dennis": ("denny", "den"),
    "dominic": ("dom", "nick"),
    "donald": ("don", "donnie", "donny"),
    "dorothy": ("dot", "dottie", "dolly", "dora"),
    "douglas": ("doug", "dougie"),
    "edward": ("ed", "eddie", "eddy", "ned", "ted", "teddy", "ward"),
    "edmund": ("ned", "ted"),
    "eleanor": ("ellie", "elle", "nell", "nellie", "nora", "elinor", "elenor"),
    "elizabeth": (
        "liz",
        "lizzie",
        "lizzy",
        "beth",
        "betty",
        "bette",
        "betsy",
        "bess",
        "bessie",
        "eliza",
        "elisa",
        "elise",
        "libby",
        "lisa",
        "liza",
        "elsie",
        "elisabeth",
        "ellie",
    ),
    "emily": ("em", "emmy", "millie"),
    "emma": ("emmie",),
    "ernest": ("ernie",),
    "eugene": ("gene",),
    "evelyn": ("eve", "evie"),
    "ezekiel": ("zeke",),
    "florence": ("flo", "florrie", "flossie"),
    "frances": ("fran", "frannie", "fanny", "francie"),
    "francis": ("frank", "frankie", "franky"),
    "gabriel": ("gabe", "gabby"),
    "gabrielle": ("gabriella", "gaby"),
    "geoffrey": ("geoff", "jeff", "jeffrey", "jeffery", "jeffry"),
    "gerald": ("gerry", "jerry", "ged"),
    "gertrude": ("gertie", "trudy", "trudie"),
    "gilbert": ("gil", "bert"),
    "gregory": ("greg", "gregg"),
    "harold": ("hal", "harry", "hank"),
    "harriet": ("hattie", "hatty"),
    "helen": ("nell", "nellie", "lena", "ellen", "helena"),
    "henry": ("hank", "harry", "hal", "hen", "hendrik"),
    "herbert": ("herb", "herbie", "bert"),
    "howard": ("howie",),
    "hubert": ("hugh", "bert"),
    "isaac": ("ike", "zac"),
    "isabella": ("izzy", "bella", "isabel", "isabelle", "izzie", "belle", "isobel"),
    "jacob": ("jake", "jakey", "coby"),
    "jacqueline": ("jackie", "jacky", "jacqui"),
    "james": ("jim", "jimmy", "jimmie", "jamie", "jem", "jas", "jay"),
    "jane": ("janie", "jeanie", "jean", "janet", "jan", "jayne"),
    "janet": ("jan", "nettie"),
    "jennifer": ("jen", "jenn", "jenny", "jennie", "jenni"),
    "jessica": ("jess", "jessie", "jessy"),
    "john": (
        "jack",
        "johnny",
        "johnnie",
        "jon",
        "jonny",
        "jock",
        "ian",
        "sean",
        "shaun",
        "shawn",
        "juan",
        "jan",
        "hans",
        "ivan",
        "giovanni",
        "johann",
    ),
    "jonathan": ("jon", "jonny", "jonty", "nathan", "jonathon"),
    "joseph": ("joe", "joey", "jo", "jos", "jose", "giuseppe", "josef"),
    "josephine": ("josie", "jo", "jody", "josephina"),
    "joshua": ("josh",),
    "judith": ("judy", "judi", "jude"),
    "julia": ("julie", "jules", "juliet"),
    "kenneth": ("ken", "kenny"),
    "kimberly": ("kim", "kimmy", "kimberley"),
    "lawrence": ("larry", "laurie", "lawrie", "laurence", "lorenzo"),
    "leonard": ("len", "lenny", "leo", "leon"),
    "lewis": ("lou", "louie", "louis", "luis", "ludwig"),
    "louise": ("lou", "lulu", "louisa", "lois"),
    "lucinda": ("cindy", "lucy"),
    "madeline": ("maddie", "maddy", "madeleine", "madelyn", "madge"),
    "magdalene": ("maggie", "lena"),
    "margaret": (
        "maggie",
        "meg",
        "megan",
        "peggy",
        "peg",
        "marge",
        "margie",
        "madge",
        "greta",
        "daisy",
        "rita",
        "margot",
        "marjorie",
        "maisie",
        "margret",
        "margrett",
    ),
    "martha": ("marty", "mattie", "patty", "patsy"),
    "martin": ("marty", "mart"),
    "mary": (
        "mae",
        "mamie",
        "molly",
        "polly",
        "mollie",
        "marie",
        "maria",
        "mia",
        "mimi",
        "may",
        "mariah",
        "miriam",
    ),
    "matilda": ("tilly", "tillie", "mattie", "maud", "maude"),
    "matthew": ("matt", "matty", "mat", "mathew"),
    "maximilian": ("max", "maxie"),
    "melissa": ("mel", "missy", "lisa"),
    "michael": ("mike", "mikey", "mick", "micky", "mickey", "mitch", "micheal", "mikael", "miguel"),
    "miriam": ("mimi",),
    "mitchell": ("mitch",),
    "nathaniel": ("nat", "nate", "nathan", "nathanael"),
    "nicholas": ("nick", "nicky", "nico", "nic", "nik", "nikolas", "nicolas", "klaus"),
    "nicola": ("nicky", "nikki", "nicole", "nichola"),
    "norman": ("norm",),
    "oliver": ("ollie", "olly", "noll"),
    "olivia": ("liv", "livvy", "ollie"),
    "pamela": ("pam", "pammy"),
    "patricia": ("pat", "patty", "patti", "tricia", "trish", "trisha", "patsy"),
    "patrick": ("paddy", "pat", "rick", "patric"),
    "penelope": ("penny", "nell", "pen"),
    "peter": ("pete", "petey", "piers", "pierre", "pedro", "pietro"),
    "philip": ("phil", "pip", "phillip", "philipp"),
    "priscilla": ("cilla", "prissy"),
    "raymond": ("ray",),
    "rebecca": ("becky", "becca", "bex", "reba"),
    "reginald": ("reg", "reggie", "rex"),
    "richard": ("rick", "ricky", "rich", "richie", "dick", "dickie", "dicky", "rico", "ricardo"),
    "robert": (
        "bob",
        "bobby",
        "bobbie",
        "rob",
        "robbie",
        "robby",
        "bert",
        "robin",
        "rab",
        "bertie",
        "roberto",
    ),
    "roberta": ("bobbi",),
    "rodney": ("rod", "roddy"),
    "roger": ("rog", "hodge"),
    "ronald": ("ron", "ronnie", "ronny"),
    "rosalind": ("ros", "roz"),
    "rose": ("rosie", "rosa", "rosy"),
    "rosemary": ("rosie", "romy"),
    "russell": ("russ", "rusty"),
    "samantha": ("sam", "sammie", "sammy"),
    "samuel": ("sam", "sammy", "sammie"),
    "sarah": ("sally", "sadie", "sara", "sal"),
    "sebastian": ("seb", "bastian"),
    "sidney": ("sid", "syd", "sydney"),
    "simon": ("si", "simeon"),
    "solomon": ("sol",),
    "stanley": ("stan",),
    "stephanie": ("steph", "stevie", "stephany"),
    "stephen": ("steve", "stevie", "steven", "steph"),
    "stuart": ("stu", "stewart"),
    "susan": ("sue", "susie", "suzy", "suzie", "susanna", "susannah", "suzanne", "sukey"),
    "sylvester": ("sly",),
    "terence": ("terry", "tel", "terrence"),
    "theodore": ("ted", "teddy", "theo"),
    "theresa": ("terri", "terry", "tess", "tessa", "teresa", "tessie"),
    "thomas": ("tom", "tommy", "thom", "tommie", "tomas"),
    "timothy": ("tim", "timmy"),
    "tobias": ("toby",),
    "valentine": ("val",),
    "valerie": ("val",),
    "veronica": ("ronnie", "vera", "roni"),
    "victor": ("vic", "vick"),
    "victoria": ("vicky", "vicki", "vickie", "tori", "vikki"),
    "vincent": ("vince", "vinny", "vinnie"),
    "virginia": ("ginny", "ginger", "virgie"),
    "walter": ("walt", "wally", "wat"),
    "wilfred": ("wilf",),
    "wilhelmina": ("mina", "minnie", "willa", "billie"),
    "william": (
        "bill",
        "billy",
        "will",
        "willie",
        "willy",
        "liam",
        "wil",
        "wills",
        "bil",
        "wilhelm",
        "guillermo",
        "wim",
    ),
    "winifred": ("winnie", "freda", "win"),
    "zachary": ("zach", "zack", "zak", "zac"),
}


# One name in another language or an older form (Gwilym is Welsh for William, Ieuan and Evan
# for John, Karl is German for Charles): the same person may be written either way. Kept apart
# from nicknames because neither form is short for the other.
_FORMS: dict[str, tuple[str, ...]] = {
    "william": ("gwilym", "guillaume", "wilhelm", "willem"),
    "john": ("evan", "ieuan", "ewan", "euan", "eoin", "johannes"),
    "james": ("jacob", "jacques", "diego", "hamish", "seamus"),
    "charles": ("karl", "carlos", "carlo"),
    "henry": ("henri", "heinrich", "enrique", "harri"),
    "henrietta": ("harriet", "harriett", "henriette"),
    "horatio": ("horace",),
    "owen": ("owain",),
    "julius": ("julian",),
    "meredith": ("meredydd",),
    "elizabeth": ("isabel", "isabella", "elisabeth", "elspeth"),
    "margaret": ("may", "margarethe", "marguerite", "mairead"),
    "cyril": ("cy",),
    "david": ("dafydd", "dai"),
    "hugh": ("hugo", "hughes"),
    "edward": ("eduard", "edouard"),
    "richard": ("rhisiart", "ricard"),
    "thomas": ("tomas", "tomos"),
    "mary": ("mair", "maria", "marie", "miriam"),
    "jane": ("jeanne", "sian", "shan"),
}


def _merged_groups() -> dict[str, tuple[str, ...]]:
    """The package's groups (long name -> nicknames) with the groups and forms above added, sorted."""
    merged: dict[str, set[str]] = {
        name.lower(): {n.lower() for n in nicknames}
        for name, nicknames in NickNamer().nickname_lookup.items()
    }
    for groups in (_OWN_GROUPS, _FORMS):
        for name, nicknames in groups.items():
            merged.setdefault(name, set()).update(nicknames)
    return {name: tuple(sorted(nicknames - {name})) for name, nicknames in sorted(merged.items())}


_GROUPS = _merged_groups()


def _invert(groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Nickname -> every canonical name it is short for, in the order the groups are listed."""
    table: dict[str, list[str]] = {}
    for canonical, nicknames in groups.items():
        for nickname in nicknames:
            if nickname != canonical and canonical not in table.get(nickname, []):
                table.setdefault(nickname, []).append(canonical)
    return {nickname: tuple(names) for nickname, names in table.items()}


NICKNAMES: dict[str, tuple[str, ...]] = _invert(_GROUPS)


def _families(groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Name -> every name of every group it belongs to (itself, the long names it is short for,
    their other short forms), sorted."""
    members: dict[str, set[str]] = {}
    for long_name, short_names in groups.items():
        family = {long_name, *short_names}
        for name in family:
            members.setdefault(name, set()).update(family)
    return {name: tuple(sorted(family)) for name, family in members.items()}


# The names a given name may be written as by the same person, in either direction: "bob" ->
# (bob, bobby, rob, robbie, robert, ...). Used as "may be the same name" evidence only.
NAME_FAMILIES: dict[str, tuple[str, ...]] = _families(_GROUPS)
