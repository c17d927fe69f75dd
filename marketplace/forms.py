"""Forms for contributors' uploads."""

from __future__ import annotations

from typing import Any

from django import forms


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that accepts several files (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class DataGroupUploadForm(forms.Form):
    """Images one by one (one label or caption for all), or a zip with a labels/captions CSV."""

    title = forms.CharField(max_length=200)
    images = MultipleFileField(required=False, help_text="PNG, JPEG or WebP images.")
    archive = forms.FileField(
        required=False,
        help_text="Or one zip of images with a captions.csv (file,caption) or labels.csv "
        "(file,label).",
    )
    label = forms.CharField(
        max_length=200, required=False, help_text="Class label for every uploaded image."
    )
    caption = forms.CharField(
        max_length=1000, required=False, help_text="Caption (prompt) for every uploaded image."
    )
    consent = forms.BooleanField(
        required=True,
        label="I agree that these images may train models and be valued for payouts.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        images, archive = data.get("images") or [], data.get("archive")
        if not images and not archive:
            raise forms.ValidationError("Choose images or a zip archive to upload.")
        if images and archive:
            raise forms.ValidationError("Upload either images or one zip archive, not both.")
        if archive and (data.get("label") or data.get("caption")):
            raise forms.ValidationError(
                "A zip archive brings its labels or captions in its own CSV file."
            )
        return data
