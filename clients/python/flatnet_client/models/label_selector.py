from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.label_selector_match_labels import LabelSelectorMatchLabels
    from ..models.label_selector_requirement import LabelSelectorRequirement


T = TypeVar("T", bound="LabelSelector")


@_attrs_define
class LabelSelector:
    """A label selector, as policies carry it: every `matchLabels` pair and every
    `matchExpressions` requirement must hold. The empty selector selects everything.

        Attributes:
            match_expressions (list[LabelSelectorRequirement] | Unset):
            match_labels (LabelSelectorMatchLabels | Unset):
    """

    match_expressions: list[LabelSelectorRequirement] | Unset = UNSET
    match_labels: LabelSelectorMatchLabels | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        match_expressions: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.match_expressions, Unset):
            match_expressions = []
            for match_expressions_item_data in self.match_expressions:
                match_expressions_item = match_expressions_item_data.to_dict()
                match_expressions.append(match_expressions_item)

        match_labels: dict[str, Any] | Unset = UNSET
        if not isinstance(self.match_labels, Unset):
            match_labels = self.match_labels.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if match_expressions is not UNSET:
            field_dict["matchExpressions"] = match_expressions
        if match_labels is not UNSET:
            field_dict["matchLabels"] = match_labels

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.label_selector_match_labels import LabelSelectorMatchLabels  # noqa: PLC0415
        from ..models.label_selector_requirement import LabelSelectorRequirement  # noqa: PLC0415

        d = dict(src_dict)
        _match_expressions = d.pop("matchExpressions", UNSET)
        match_expressions: list[LabelSelectorRequirement] | Unset = UNSET
        if _match_expressions is not UNSET:
            match_expressions = []
            for match_expressions_item_data in _match_expressions:
                match_expressions_item = LabelSelectorRequirement.from_dict(match_expressions_item_data)

                match_expressions.append(match_expressions_item)

        _match_labels = d.pop("matchLabels", UNSET)
        match_labels: LabelSelectorMatchLabels | Unset
        if isinstance(_match_labels, Unset):
            match_labels = UNSET
        else:
            match_labels = LabelSelectorMatchLabels.from_dict(_match_labels)

        label_selector = cls(
            match_expressions=match_expressions,
            match_labels=match_labels,
        )

        return label_selector
