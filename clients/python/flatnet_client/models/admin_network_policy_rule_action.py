from enum import StrEnum


class AdminNetworkPolicyRuleAction(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"

    def __str__(self) -> str:
        return str(self.value)
