from enum import StrEnum


class RestartPolicy(StrEnum):
    ALWAYS = "Always"
    NEVER = "Never"
    ONFAILURE = "OnFailure"

    def __str__(self) -> str:
        return str(self.value)
