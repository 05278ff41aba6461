"""Forms: sign-up, e-mail confirmation, uploading predictions, the admin's benchmark form."""

from __future__ import annotations

from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.template.defaultfilters import filesizeformat

import scoring
from leaderboard import uploads
from leaderboard.models import (
    AccountSettings,
    ApiToken,
    Benchmark,
    Submission,
    default_abstention_phrases,
    default_targets,
)

# Besides our own tables: harness logs (Inspect's .eval and HELM's run directory are zip
# archives, lighteval's details parquet files; the other logs are .json or .jsonl).
ACCEPTED_SUFFIXES = (
    ".csv",
    ".jsonl",
    ".json",
    ".csv.gz",
    ".jsonl.gz",
    ".json.gz",
    *scoring.LOG_SUFFIXES,
)


def format_choices() -> list[tuple[str, str]]:
    """The upload form's formats: recognised from the file, ours, then each harness log that
    scoring reads (scoring.LOG_FORMATS)."""
    return [
        ("", "Recognise it from the file"),
        (scoring.TABLE_FORMAT, "Our CSV / JSON Lines / JSON"),
        *scoring.LOG_FORMATS.items(),
    ]


# The form's fields that say how a harness log is read (scoring's LogOptions).
LOG_OPTION_FIELDS = ("format", "filter", "epoch", "scorer")


def check_upload(upload) -> None:
    """Refuse a file by its name and size before anything reads it."""
    name = upload.name or ""
    if not name.lower().endswith(ACCEPTED_SUFFIXES):
        raise forms.ValidationError(
            f"“{PurePath(name).name}” is not a file type we read: upload a .csv, .jsonl or .json "
            "file, optionally gzip-compressed (.gz), or a harness log (.json, .jsonl, .eval, .zip "
            "or .parquet)."
        )
    limit = settings.UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise forms.ValidationError(
            f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}.",
            code=uploads.TOO_LARGE,
        )
    if upload.size == 0:
        raise forms.ValidationError("The file is empty.")


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        label="E-mail address",
        help_text=(
            "We send a link to confirm it: benchmarks whose answers are hidden take uploads "
            "from confirmed addresses only. Password-reset links go there too."
        ),
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class ConfirmationRequestForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address", help_text="Correct it here if it was mistyped at sign-up."
    )
    password = forms.CharField(
        label="Your password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Needed only to change the address.",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict:
        # The address is where password resets go: whoever holds a session but not the password
        # (a borrowed computer, a stolen cookie) must not be able to move it to a mailbox of theirs.
        cleaned = super().clean()
        email = cleaned.get("email")
        changed = email and email.casefold() != self.user.email.casefold()
        if changed and not self.user.check_password(cleaned.get("password") or ""):
            self.add_error("password", "Give your password to change the address.")
        return cleaned


class SubmissionForm(forms.ModelForm):
    url = forms.URLField(
        label="URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="A page about the model or this run (optional).",
    )
    file = forms.FileField(
        help_text=(
            "A .csv, .jsonl or .json prediction file, optionally .gz-compressed, or the log your "
            "harness wrote: Inspect AI (.json, .eval), lm-evaluation-harness (.jsonl, .zip), "
            "lighteval (.parquet), HELM (.zip), Every Eval Ever (.jsonl)."
        ),
        # File choosers match the last suffix only: ".gz" stands for .csv.gz and the others.
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.jsonl,.json,.gz,.eval,.zip,.parquet"}
        ),
    )
    format = forms.ChoiceField(
        label="File format",
        choices=format_choices,
        required=False,
        help_text="Leave it to be recognised, unless the file is read as the wrong kind.",
    )
    filter = forms.CharField(
        label="Filter",
        required=False,
        max_length=200,
        help_text=(
            "lm-evaluation-harness: the filter whose answers are scored, e.g. strict-match "
            "(needed when the log holds several)."
        ),
        widget=forms.TextInput(attrs={"list": "filters-found", "autocomplete": "off"}),
    )
    epoch = forms.IntegerField(
        label="Epoch",
        required=False,
        min_value=1,
        help_text="Inspect AI: the epoch whose answers are scored, when the log ran several.",
        widget=forms.NumberInput(attrs={"list": "epochs-found"}),
    )
    scorer = forms.CharField(
        label="Scorer",
        required=False,
        max_length=200,
        help_text="Inspect AI: the scorer whose answers are read, when samples carry several.",
        widget=forms.TextInput(attrs={"list": "scorers-found", "autocomplete": "off"}),
    )

    class Meta:
        model = Submission
        fields = ("model_name", "organisation", "url", "description", "visibility", "file")
        labels = {"model_name": "Model name"}
        help_texts = {
            "description": "How the predictions were made: prompt, settings, judge (optional).",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        check_upload(upload)
        return upload

    def log_options(self) -> dict[str, object]:
        """The options given for reading a harness log, as Submission.log_options holds them
        (LogOptions.to_dict()): those left empty are left out, to be taken from the log."""
        values = {name: self.cleaned_data.get(name) for name in LOG_OPTION_FIELDS}
        return scoring.LogOptions(
            **{name: value for name, value in values.items() if value}
        ).to_dict()

    def main_fields(self) -> list:
        """The fields shown first; the log options (LOG_OPTION_FIELDS but the format) after."""
        return [field for field in self if field.name not in LOG_OPTION_FIELDS[1:]]

    def log_option_fields(self) -> list:
        return [self[name] for name in LOG_OPTION_FIELDS[1:]]


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("name",)
        labels = {"name": "Name"}
        help_texts = {"name": "What the token is for, e.g. “CI of my-model”."}


class AccountSettingsForm(forms.ModelForm):
    class Meta:
        model = AccountSettings
        fields = ("email_on_finish",)
        labels = {"email_on_finish": "E-mail me when a submission of mine finishes"}
        help_texts = {
            "email_on_finish": (
                "One e-mail per upload, to your confirmed address, when it is scored, rejected or "
                "failed; none when staff score it again."
            )
        }


class TargetsField(forms.CharField):
    """Confidence targets typed as "0.5, 0.75, 0.9"; at least one."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(scoring.target_key(t) for t in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        targets = []
        for part in text.replace(";", ",").split(","):
            if not part.strip():
                continue
            try:
                t = float(part)
            except ValueError:
                raise forms.ValidationError(f"“{part.strip()}” is not a number.") from None
            if not 0 < t < 1:
                raise forms.ValidationError(
                    f"Every target must be above 0 and below 1 ({part.strip()} is not); "
                    "binary grading (t = 0) is always shown."
                )
            targets.append(t)
        return sorted(set(targets))


class PhrasesField(forms.CharField):
    """Abstention phrases, one per line."""

    widget = forms.Textarea(attrs={"rows": 6})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]


class BenchmarkAdminForm(forms.ModelForm):
    gold_file = forms.FileField(
        required=False,
        help_text=(
            "A .csv, .jsonl or .json gold file (optionally .gz) with id and answer columns; "
            "aliases, question and category optional. Or a harness log (Inspect AI .json or "
            ".eval, lm-evaluation-harness .jsonl or .zip, lighteval .parquet, HELM .zip, Every "
            "Eval Ever .jsonl): its samples' targets become the gold answers, with their options "
            "and questions, so that a benchmark can be opened from one run of a harness. "
            "Required for a new benchmark; uploading one "
            "for an existing benchmark replaces its items and rescores its submissions. A worker "
            "reads and stores it after you save: its progress and any errors show on this page, "
            "and the benchmark keeps its items until the new ones are all stored."
        ),
    )
    # A new form starts from the defaults of SPEC §2 and §4 (a ModelForm would start blank).
    targets = TargetsField(
        initial=default_targets,
        help_text="Confidence targets, comma-separated, e.g. “0.5, 0.75, 0.9”.",
        error_messages={
            "required": (
                "A benchmark needs at least one confidence target, e.g. “0.5, 0.75, 0.9”: "
                "the targets are what rewards abstention (binary grading is always shown too)."
            )
        },
    )
    abstention_phrases = PhrasesField(
        required=False,
        initial=default_abstention_phrases,
        help_text=(
            "One per line; an answer equal to one of them (after normalising) counts as an "
            "abstention. To have none, empty this box and tick “No abstention phrases”."
        ),
    )
    no_abstention_phrases = forms.BooleanField(
        required=False,
        label="No abstention phrases",
        help_text=(
            "Grade every answer as written: only empty answers and rows marked as abstaining "
            "count as abstentions, and an answer such as “I don't know” is graded wrong."
        ),
    )

    class Meta:
        model = Benchmark
        fields = (
            "name",
            "slug",
            "description",
            "source",
            "grader",
            "targets",
            "abstention_phrases",
            "min_coverage",
            "n_options",
            "numeric_tolerance",
            "partial_credit",
            "visibility",
            "gold_public",
            "gold_file",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and not self.instance.abstention_phrases:
            self.initial["no_abstention_phrases"] = True

    # Set by the admin from the request: why the upload handler dropped the gold file, if it did.
    upload_refusal = ""

    def clean(self):
        cleaned = super().clean()
        self._clean_phrases(cleaned)
        if self.upload_refusal:
            self.add_error("gold_file", self.upload_refusal)
            return cleaned
        upload = cleaned.get("gold_file")
        if upload is None:
            if self.instance.pk is None:
                self.add_error("gold_file", "A new benchmark needs a gold file.")
            elif "grader" in self.changed_data:
                self.add_error(
                    "gold_file",
                    "Changing the grader changes how the gold answers are read: "
                    "upload the gold file again with it.",
                )
            return cleaned
        try:
            # Only what can be told at once; a worker reads the file after the save.
            check_upload(upload)
        except forms.ValidationError as error:
            self.add_error("gold_file", error)
        return cleaned

    def _clean_phrases(self, cleaned: dict) -> None:
        """An empty phrase list only when asked for in so many words."""
        phrases = cleaned.get("abstention_phrases")
        none = cleaned.get("no_abstention_phrases")
        if phrases is None:
            return
        if not phrases and not none:
            self.add_error(
                "abstention_phrases",
                "List the abstention phrases, one per line, or tick “No abstention phrases” to "
                "have none (then “I don't know” is graded as a wrong answer).",
            )
        elif phrases and none:
            self.add_error(
                "no_abstention_phrases",
                "“No abstention phrases” is ticked but phrases are listed: empty the list, or "
                "untick the box.",
            )
