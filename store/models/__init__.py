"""Every table, imported here so that `Base.metadata` knows them all."""

from store.models.automation import BasicTool, SessionToolAssociation, SystemAutomation
from store.models.conversation import Click, Message, ProcessedEvent
from store.models.knowledge import KbCollection, KbDocument, KbPassage, UserKbAssociation
from store.models.operations import ApiToken, AuditLog
from store.models.people import User, UserLoginToken, UserPreference, UserSession
from store.models.platforms import PlatformBot, PlatformChannel, PlatformUser
from store.models.tenancy import Bot, BotConfiguration, BotMemory, Organization

__all__ = [
    "ApiToken",
    "AuditLog",
    "BasicTool",
    "Bot",
    "BotConfiguration",
    "BotMemory",
    "Click",
    "KbCollection",
    "KbDocument",
    "KbPassage",
    "Message",
    "Organization",
    "PlatformBot",
    "PlatformChannel",
    "PlatformUser",
    "ProcessedEvent",
    "SessionToolAssociation",
    "SystemAutomation",
    "User",
    "UserKbAssociation",
    "UserLoginToken",
    "UserPreference",
    "UserSession",
]
