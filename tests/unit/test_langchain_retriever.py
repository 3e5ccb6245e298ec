"""castgraph as the retriever of a real LangChain chain."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.langchain import CastgraphRetriever
from castgraph.retrieval.search import SearchService
from tests.unit.test_search_service import FixedRetriever, Lookup, _chunk


def _retriever(**kwargs: object) -> CastgraphRetriever:
    service = SearchService(
        {"vector": FixedRetriever(["a", "c"]), "keyword": FixedRetriever(["c"])},
        Lookup([_chunk("a"), _chunk("c", episode="ep2", lang="en")]),
        visible=lambda: {"ep1", "ep2"},
    )
    return CastgraphRetriever(service=service, **kwargs)


def test_documents_carry_the_moment() -> None:
    docs = _retriever(k=2).invoke("¿Quién habló de Ushuaia?")
    assert [d.page_content for d in docs] == ["texto c", "texto a"]
    meta = docs[0].metadata
    assert meta["link"] == "https://www.youtube.com/watch?v=abc&t=65s"
    assert (meta["episode_id"], meta["speaker"], meta["start"]) == ("ep2", "Ana", 65.4)
    assert meta["signals"] == {"vector": 2, "keyword": 1, "graph": None}


def test_filters_apply() -> None:
    docs = _retriever(filters=SearchFilters(languages=("es",))).invoke("x")
    assert [d.metadata["chunk_id"] for d in docs] == ["a"]


def test_works_inside_a_chain() -> None:
    seen: list[str] = []

    def cite(docs: list[Document]) -> str:
        return "\n".join(f"[{d.metadata['link']}] {d.page_content}" for d in docs)

    def record(prompt: PromptValue) -> PromptValue:
        seen.append(prompt.to_string())
        return prompt

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from these moments:\n{context}"), ("human", "{question}")]
    )
    chain = (
        {"context": _retriever(k=1) | RunnableLambda(cite), "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(record)
        | FakeListChatModel(responses=["Lo dijo Ana [1]."])
        | StrOutputParser()
    )
    assert chain.invoke("¿Dónde?") == "Lo dijo Ana [1]."
    assert "[https://www.youtube.com/watch?v=abc&t=65s] texto c" in seen[0]
