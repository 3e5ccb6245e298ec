"""Word lists of the offline extractor (Spanish and English), stored folded (``core.text.fold``).

Every list is a module constant built from plain strings: no files are read at import time.
"""

from __future__ import annotations

from castgraph.core.text import fold


def words(text: str) -> frozenset[str]:
    """The folded, whitespace-separated words of ``text`` as a set."""
    return frozenset(fold(w) for w in text.split())


# Articles, prepositions, conjunctions, pronouns, determiners and auxiliaries: never an entity
# on their own, and stripped from the edges of a capitalised run at the start of a sentence.
FUNCTION_WORDS = words(
    """
    el la los las lo un una unos unas al del de a ante bajo con contra desde durante en entre
    hacia hasta mediante para por segun sin sobre tras y e ni o u pero sino que si como cuando
    donde mientras porque pues aunque yo tu vos usted ustedes nosotros nosotras vosotros ellos
    ellas el ella ello me te se nos os le les mi mis tu tus su sus nuestro nuestra nuestros
    nuestras este esta estos estas ese esa esos esas aquel aquella esto eso aquello cual cuales
    quien quienes cuyo todo toda todos todas otro otra otros otras mismo misma cada algun alguno
    alguna algunos algunas ningun ninguno ninguna mucho mucha muchos muchas poco poca pocos pocas
    tanto tanta tantos tantas varios varias ambos que cual quien como donde cuando cuanto
    es son era eran fue fueron ser sido soy eres somos estoy esta estan estamos estaba estaban
    hay habia ha han he hemos has haber tiene tienen tengo tenemos tenia va van voy vamos
    the a an of in on at to for from by with about into onto over under after before between
    through during without within and or but nor so yet if then than because while as since
    until unless though although whether i me my mine we us our ours you your yours he him his
    she her hers it its they them their theirs this that these those who whom whose which what
    where when why how all any both each every few many much more most other some such no not
    only own same too very is are was were be been being am do does did have has had having
    will would shall should can could may might must there here its it's i'm i've i'd i'll
    we're we've they're you're he's she's that's there's what's let's don't doesn't didn't
    """
)

# Capitalised words that are never (part of the edge of) a name: interjections, greetings,
# answers, days, months, "I" and friends, languages and demonyms.
ALWAYS_DROP = words(
    """
    hola chau chao adios buenas buenos bueno bien buen claro exacto exactamente vale dale che
    gracias muchas perdon disculpa disculpe bienvenidos bienvenidas bienvenido bienvenida
    si no ok okay oka eh ah oh uh um mm mhm ajam aja ey epa bah uf ojala genial perfecto
    yes yeah yep nope no okay hello hi hey bye goodbye thanks thank please sorry welcome well
    oh wow right sure alright like so um uh hmm mhm huh
    lunes martes miercoles jueves viernes sabado sabados domingo domingos
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre
    diciembre
    monday mondays tuesday wednesday thursday friday saturday saturdays sunday sundays
    january february march april june july august september october november december
    i i'm i've i'd i'll yo tv am pm ceo cto cfo dj mc
    senor senora senorita usted ustedes sir madam
    espanol espanola ingles inglesa frances francesa aleman alemana italiano italiana
    portugues argentino argentinos argentinas mexicano mexicana chileno chilena
    uruguayo uruguaya peruano peruana colombiano colombiana venezolano venezolana
    brasileno brasilena europeo europea americano americana latinoamericano latino latina
    norteamericano chino japones japonesa ruso rusa holandes holandesa
    english spanish french german italian portuguese dutch russian chinese japanese korean
    american americans british european europeans african asian latin latino latina canadian
    mexican argentine argentinian brazilian chilean colombian peruvian venezuelan cuban
    australian irish scottish welsh swedish norwegian danish finnish polish greek turkish
    arabic arab indian hindi hebrew jewish muslim christian catholic
    """
)

# Lower-case words allowed inside a capitalised run ("Banco de la Nación", "Institute of ...").
CONNECTORS = words("de del la las los el e y of the van von da di du der den dos das do le for and")

# Connectors that join two names rather than build one; a run is split at them unless it holds
# an organisation keyword ("Ministerio de Ciencia y Tecnología" stays whole).
JOINING_CONNECTORS = words("y e and for")

# Title abbreviations before a name: a person cue, dropped from the name ("Sr. Pérez").
HONORIFIC_ABBREVIATIONS = words("sr sra srta dr dra mr mrs ms prof lic ing")

# Honorific words that belong to the name and mark a person ("Doña Rosa", "Sir Paul").
HONORIFIC_WORDS = words("don dona sir dame lady fray sor")

# Lower-case words right before a name that say it is a person.
PERSON_CUES = words(
    """
    doctor doctora senor senora senorita profesor profesora licenciado licenciada ingeniero
    ingeniera presidente presidenta ministro ministra senador senadora diputado diputada
    gobernador gobernadora intendente alcalde alcaldesa rey reina papa escritor escritora autor
    autora periodista cantante actor actriz directora colega amigo amiga hermano hermana
    abuelo abuela tio tia hijo hija esposo esposa marido companero companera invitado invitada
    oyente llamado llamada llamo llama panadero panadera cientifico cientifica investigador
    investigadora climatologo climatologa
    mister president senator minister professor author writer journalist singer actress
    governor mayor king queen pope chef colleague friend brother sister mother father son
    daughter wife husband uncle aunt guest host listener named called baker scientist
    researcher ecologist
    """
)

# Lower-case words before a name (possibly with "de"/"of" between) that say it is a place.
PLACE_CUES = words(
    """
    ciudad pueblo provincia barrio avenida calle region pais estado municipio localidad
    distrito isla rio plaza
    town city village province country state region county neighborhood neighbourhood street
    avenue district island river
    """
)

# Lower-case words before a name that say it is an organisation.
ORG_CUES = words(
    """
    empresa compania panaderia restaurante restoran bar editorial club banda diario periodico
    revista startup marca organizacion ong partido equipo escuela colegio universidad
    cooperativa fundacion agencia
    company firm bakery restaurant band newspaper magazine publisher brand organization
    organisation party team school university agency charity nonprofit
    """
)

# Prepositions before a name that hint at a place: strong ones count twice.
STRONG_PLACE_PREPOSITIONS = words("en desde hasta hacia in from near across through into")
WEAK_PLACE_PREPOSITIONS = words("de a to at")

# Words inside a name that make it an organisation.
ORG_KEYWORDS = words(
    """
    universidad university banco bank club ministerio ministry instituto institute fundacion
    foundation radio diario partido inc corp corporation company compania srl ltd llc gmbh
    observatorio observatory cooperativa cooperative lab labs laboratory laboratorio centro
    center centre asociacion association federacion federation sindicato union gobierno
    government secretaria departamento department comision commission consejo council agencia
    agency escuela school colegio college academia academy hospital clinica clinic museo museum
    biblioteca library editorial press times news journal gazette tribune records studios group
    grupo network industries industrias holdings sociedad society orquesta orchestra congreso
    congress senado senate tribunal court policia police ejercito army armada navy fondo fund
    empresa corporacion conicet unesco
    """
)

# Words inside a name that make it a place (when no organisation keyword is present).
PLACE_KEYWORDS = words(
    """
    parque park plaza square mercado market avenida avenue calle street barrio rio river lago
    lake monte mount mountain mountains cerro sierra cordillera valle valley isla island islas
    islands playa beach bahia bay puerto port estacion station aeropuerto airport puente bridge
    estadio stadium provincia province ciudad city pueblo costa coast golfo gulf mar sea oceano
    ocean desierto desert peninsula cabo cape canal county condado region distrito district
    san santa saint
    """
)

# Never a topic: function words plus frequent verbs, adverbs, adjectives, fillers and numbers.
TOPIC_STOPWORDS = (
    FUNCTION_WORDS
    | ALWAYS_DROP
    | words(
        """
    estar estas estaria estuvo estuve estamos seria serian sea sean sido siendo habia hubo
    haya tener tenes tenia tuve tuvo tenido hacer hace hacen hago hacemos hacia hizo hice
    hecho haciendo decir dice dicen digo dije dijo dijeron decimos diciendo ir voy vas va
    vamos van iba fui fue ido yendo ver veo ves vemos vio vi visto poder puede pueden puedo
    podemos podia pudo querer quiere quieren quiero queria saber sabe se sabes sabemos supe
    creo cree creemos pienso piensa parece parecia llamamos llama llaman llamo dar da dan doy
    dio dieron dado venir viene vienen vino seguir sigue seguimos pasar pasa paso pasaba
    quedar queda quedo empezar empezamos empezo contar cuenta contanos contame tratar trata
    mira miren mire escucha hablar habla hablamos hablando gusta gusto encanta encontraron
    muy mas menos tambien tampoco ya aun todavia siempre nunca jamas solo sola solamente bien
    mal mejor peor asi aca aqui alli ahi alla ahora antes despues luego entonces hoy ayer
    manana tarde temprano casi quizas quiza tal vez justo bastante demasiado nada algo alguien
    nadie cosa cosas vez veces parte forma manera tipo caso hecho momento tiempo dia dias ano
    anos semana semanas mes meses hora horas minuto minutos gente persona personas mundo
    grande grandes pequeno pequena chico chica nuevo nueva viejo vieja bueno buena malo mala
    primero primera ultimo ultima mismo gran tan tanto cierto verdad sea osea digamos tipo
    medio mitad lado dentro fuera arriba abajo adentro afuera cerca lejos junto juntos
    sabado programa podcast charla episodio invitada invitado pregunta preguntas respuesta
    uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince
    dieciseis diecisiete dieciocho diecinueve veinte treinta cuarenta cincuenta sesenta
    setenta ochenta noventa cien ciento mil millon millones primer segundo tercero
    get got gets getting go goes going gone went make makes made making say says said saying
    know knows knew known think thinks thought see sees saw seen come comes came take takes
    took taken want wants wanted look looks looked use used using find found give gave given
    tell told telling work works worked feel felt try tried leave left call called keep kept
    let lets put mean means meant seem seems become became show showed need needs needed
    really just also even still already always never ever maybe perhaps quite rather pretty
    actually basically literally kind sort lot lots thing things stuff way ways time times
    day days year years week weeks month months hour hours minute minutes people person
    today tomorrow yesterday now then later soon again once twice here there everything
    something nothing anything everyone someone anyone good better best bad worse worst big
    bigger small new old great little long first last next whole sure fine
    one two three four five six seven eight nine ten eleven twelve thirteen fifteen twenty
    thirty forty fifty hundred thousand million second third
    episode show guest podcast question questions answer
    """
    )
)
