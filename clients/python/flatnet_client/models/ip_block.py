from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="IpBlock")


@_attrs_define
class IpBlock:
    """Addresses in `cidr` but not in any of `except` (each within `cidr`).

    Attributes:
        cidr (str):
        except_ (list[str] | Unset):
    """

    cidr: str
    except_: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        cidr = self.cidr

        except_: list[str] | Unset = UNSET
        if not isinstance(self.except_, Unset):
            except_ = self.except_

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cidr": cidr,
            }
        )
        if except_ is not UNSET:
            field_dict["except"] = except_

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cidr = d.pop("cidr")

        except_ = cast(list[str], d.pop("except", UNSET))

        ip_block = cls(
            cidr=cidr,
            except_=except_,
        )

        return ip_block
