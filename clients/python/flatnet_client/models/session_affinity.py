from enum import StrEnum


class SessionAffinity(StrEnum):
    CLIENTIP = "ClientIP"
    NONE = "None"

    def __str__(self) -> str:
        return str(self.value)
