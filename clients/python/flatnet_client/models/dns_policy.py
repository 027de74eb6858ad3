from enum import StrEnum


class DnsPolicy(StrEnum):
    CLUSTERFIRST = "ClusterFirst"
    DEFAULT = "Default"
    NONE = "None"

    def __str__(self) -> str:
        return str(self.value)
