"""Small gazetteers of the offline extractor: given names and well-known places (folded keys)."""

from __future__ import annotations

from castgraph.core.text import entity_key
from castgraph.ingest.extract.lexicon import words

# Common given names (Spanish, English and a few others): a first word from here marks a person.
GIVEN_NAMES = words(
    """
    adrian agustin agustina alberto alejandra alejandro alicia ana andrea andres angel angela
    antonio ariel beatriz belen benjamin bernardo camila carla carlos carmen carolina catalina
    cecilia celeste clara claudia cristian cristina daniel daniela david diego dolores eduardo
    elena elisa emilia emiliano emilio enrique ernesto esteban eugenia eva facundo federico
    felipe fernanda fernando florencia francisco gabriel gabriela gaston gonzalo graciela
    guadalupe guillermo gustavo hector hernan horacio hugo ignacio ines isabel jaime javier
    jesus joaquin jorge jose josefina juan juana julia julian julieta julio laura leandro
    leonardo lorena lucas lucia luciana lucio luis luisa manuel manuela marcela marcelo marcos
    margarita maria mariana mariano marina mario marta martin martina mateo matias mercedes
    miguel milagros monica natalia nicolas noelia norma octavio oscar pablo paola patricia
    paula pedro pilar rafael ramiro ramon raquel raul ricardo roberto rocio rodrigo rosa
    rosario ruben santiago sara sebastian sergio silvia sofia susana teresa tomas valentin
    valentina valeria veronica vicente victor victoria ximena yolanda
    aaron abigail adam alan albert alex alexander alice allison amanda amy andrew angela anna
    anne anthony arthur barbara ben benjamin beth betty bill bob brandon brian bruce carl carol
    caroline catherine charles charlie chris christine christopher claire daniel dave david
    deborah dennis diana donald donna dorothy douglas edward elizabeth ellen emily emma eric
    ethan evelyn frank gary george grace greg hannah harold harry heather helen henry jack
    jacob james jane janet jason jeff jennifer jeremy jerry jessica jim joan joe john johnny
    jonathan joseph joshua joyce judith julie justin karen kate katherine kathleen keith kelly
    kenneth kevin kimberly larry laura lauren linda lisa louis lucy margaret mark martha mary
    matthew megan melissa michael michelle mike nancy nathan nicholas nicole olivia oliver
    pamela patrick paul peter philip rachel ralph rebecca richard robert ronald rose russell
    ruth ryan samantha samuel sandra sarah scott sharon stephen steve steven susan thomas
    timothy tom tony victoria walter william
    lars sven ingrid astrid erik anders hans klaus jurgen stefan marco giulia giovanni luca
    francesca pierre jean marie sophie camille joao
    """
)

# Countries, regions and cities likely to come up in Spanish- and English-language podcasts.
_PLACES = """
Argentina; Bolivia; Brasil; Brazil; Chile; Colombia; Costa Rica; Cuba; Ecuador; El Salvador;
España; Spain; Estados Unidos; EEUU; EE UU; United States; USA; US; Guatemala; Honduras; México;
Mexico; Nicaragua; Panamá; Paraguay; Perú; Peru; Puerto Rico; República Dominicana; Uruguay;
Venezuela; Canadá; Canada; Francia; France; Alemania; Germany; Italia; Italy; Portugal;
Reino Unido; United Kingdom; UK; Inglaterra; England; Escocia; Scotland; Irlanda; Ireland;
Holanda; Países Bajos; Netherlands; Holland; Bélgica; Belgium; Suiza; Switzerland; Austria;
Suecia; Sweden; Noruega; Norway; Dinamarca; Denmark; Finlandia; Finland; Polonia; Poland;
Grecia; Greece; Turquía; Turkey; Rusia; Russia; Ucrania; Ukraine; China; Japón; Japan; Corea;
Korea; India; Israel; Egipto; Egypt; Marruecos; Morocco; Sudáfrica; South Africa; Australia;
Nueva Zelanda; New Zealand; Europa; Europe; África; Africa; Asia; América; America;
Latinoamérica; Latin America; Sudamérica; South America; Antártida; Antarctica; Patagonia;
Buenos Aires; Córdoba; Rosario; Mendoza; La Plata; Mar del Plata; Tucumán; Salta; Jujuy;
Neuquén; Bariloche; Ushuaia; Santa Fe; Entre Ríos; Corrientes; Misiones; Chubut; Avellaneda;
Quilmes; Montevideo; Santiago; Valparaíso; Lima; Bogotá; Medellín; Quito; Caracas; La Paz;
Asunción; Ciudad de México; Mexico City; Guadalajara; Monterrey; La Habana; Havana;
Madrid; Barcelona; Sevilla; Valencia; Bilbao; Londres; London; París; Paris; Berlín; Berlin;
Roma; Rome; Milán; Milan; Lisboa; Lisbon; Ámsterdam; Amsterdam; Rotterdam; Bruselas;
Brussels; Ginebra; Geneva; Viena; Vienna; Estocolmo; Stockholm; Copenhague; Copenhagen;
Moscú; Moscow; Pekín; Beijing; Tokio; Tokyo; Nueva York; New York; Los Ángeles; Los Angeles;
San Francisco; Chicago; Boston; Washington; Miami; Houston; Seattle; Toronto; Montreal;
Vancouver; Sídney; Sydney; Melbourne; Río de Janeiro; Rio de Janeiro; São Paulo; Sao Paulo;
Brasilia
"""

PLACES = frozenset(entity_key(p) for p in _PLACES.split(";") if p.strip())
PLACE_FIRST_WORDS = frozenset(key.split()[0] for key in PLACES)
