"""The Ask panel of the reader: a question about the current step, answered by the configured model from the step
and the best passages of the course, streamed in, with the steps it cites as links. With the built-in fm-tiny it
says the model is too small and shows the passages instead of generated text."""
from __future__ import annotations

import logging

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tutor.search.ask import AskError, AskPlan, Passage, build_plan, cited, retrieve, stream_answer, too_small
from tutor.widgets.key_bar import KeyBar

log = logging.getLogger(__name__)

TOO_SMALL_TEXT = (
    "fm-tiny (the built-in 1M-parameter model) is far too small to answer, so nothing is generated. Below: the "
    "steps that match your question (down, then enter opens one). For answers, configure a chat model (README: vLLM)."
)


class AskScreen(ModalScreen[None]):
    """Ask about the current step."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="ask.close"),
        Binding("ctrl+o", "show_prompt", "Prompt", id="ask.prompt"),
        Binding("down", "sources", "Sources", show=False, id="ask.sources"),
    ]

    GENERATION: dict = {}  # extra request fields (e.g. a generation_config); empty: the server's defaults

    def __init__(self, lesson_id: str, step_id: str, step_title: str) -> None:
        super().__init__()
        self.lesson_id, self.step_id, self.step_title = lesson_id, step_id, step_title
        self.plan: AskPlan | None = None
        self.answer = ""
        self.links: list[Passage] = []
        self.generated = False  # whether the text shown came from a model

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-dialog"):
            yield Static(Text(f"Ask about {self.lesson_id} › {self.step_title}", style="bold"), classes="dialog-title")
            yield Input(placeholder="your question, then enter", id="ask-input")
            yield Static("", id="ask-status")
            with VerticalScroll(id="ask-answer-scroll"):
                yield Static("", id="ask-answer")
            yield OptionList(id="ask-sources")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#ask-input", Input).focus()

    def _status(self, msg: str) -> None:
        if self.is_attached:
            self.query_one("#ask-status", Static).update(msg)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        question = event.value.strip()
        if not question:
            self._status("Type a question first.")
            return
        self.answer = ""
        self.generated = False
        self.query_one("#ask-answer", Static).update("")
        self.query_one("#ask-sources", OptionList).clear_options()
        self._status("Looking up the course…")
        self._ask(question)

    @work(thread=True, exclusive=True, group="ask")
    def _ask(self, question: str) -> None:
        app = self.app
        try:
            index = app.search_index()
            plan = build_plan(question, retrieve(index, self.lesson_id, self.step_id, question))
        except AskError as e:
            app.call_from_thread(self._status, str(e))
            return
        app.call_from_thread(self._planned, plan)
        endpoint = None
        if not too_small(app.config.model):
            from tutor.backend.endpoint import current_endpoint

            endpoint = current_endpoint()
        if too_small(app.config.model, endpoint.model if endpoint else None):
            app.call_from_thread(self._too_small)
            return
        if endpoint is None:
            app.call_from_thread(self._status, "No model server is running (see the status line, or `fm-tutor "
                                 "doctor`). The matching steps are listed below.")
            app.call_from_thread(self._show_links, plan.passages, "Matching steps")
            return
        app.call_from_thread(self._status, f"Asking {endpoint.model}…")
        try:
            for piece in stream_answer(endpoint.base_url, endpoint.api_key, endpoint.model, plan.messages,
                                       extra=self.GENERATION):
                app.call_from_thread(self._append, piece)
        except AskError as e:
            log.info("ask failed: %s", e)
            app.call_from_thread(self._status, f"The question could not be answered: {e}")
            app.call_from_thread(self._show_links, plan.passages, "Matching steps")
            return
        app.call_from_thread(self._answered)

    def _planned(self, plan: AskPlan) -> None:
        self.plan = plan

    def _too_small(self) -> None:
        if not self.is_attached:  # closed while the answer streamed
            return
        self._status("")
        self.query_one("#ask-answer", Static).update(Text(TOO_SMALL_TEXT, style="italic"))
        self._show_links(self.plan.passages, "Passages retrieved for your question")

    def _append(self, piece: str) -> None:
        if not self.is_attached:  # closed while the answer streamed
            return
        self.generated = True
        self.answer += piece
        self.query_one("#ask-answer", Static).update(self.answer)
        self.query_one("#ask-answer-scroll", VerticalScroll).scroll_end(animate=False)

    def _answered(self) -> None:
        if not self.is_attached:  # closed while the answer streamed
            return
        used = cited(self.answer, self.plan.passages)
        self._status(f"Answered by the model; it cites {len(used)} step(s). ctrl+o shows the prompt and passages.")
        self._show_links(used or self.plan.passages, "Cited steps" if used else "Passages sent with the question")

    def _show_links(self, passages: list[Passage], title: str) -> None:
        if not self.is_attached:  # closed while the answer streamed
            return
        self.links = list(passages)
        lst = self.query_one("#ask-sources", OptionList)
        lst.clear_options()
        lst.add_option(Option(Text(title, style="bold"), disabled=True))
        for i, p in enumerate(passages):
            t = Text(f"{p.tag} ", style="cyan")
            t.append(f"{p.lesson_title} › {p.step_title}")
            if p.current:
                t.append("  (this step)", style="dim")
            lst.add_option(Option(t, id=f"src-{i}"))

    def action_sources(self) -> None:
        self.query_one("#ask-sources", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id.startswith("src-"):
            p = self.links[int(event.option.id[4:])]
            app = self.app
            self.dismiss(None)
            app.open_lesson(p.lesson_id, p.step_id)

    def action_show_prompt(self) -> None:
        if self.plan is None:
            self._status("Ask a question first: then the prompt, the passages and the answer can be viewed.")
            return
        from tutor.ui.screens.cells import FullOutputScreen

        answer = self.answer if self.generated else "(no answer generated: " + (
            "fm-tiny is too small)" if too_small(self.app.config.model) else "none yet)")
        text = f"{self.plan.prompt_text()}\n\n--- answer ---\n{answer}"
        self.app.push_screen(FullOutputScreen("Prompt, passages and answer", text))

    def action_close(self) -> None:
        self.workers.cancel_group(self, "ask")
        self.dismiss(None)
