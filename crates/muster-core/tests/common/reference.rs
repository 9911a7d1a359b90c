//! The Graph security reference (`../shared/reference/graph-security.md`, sections 1.2–1.6) as
//! data: property names, enum members and evidence fields copied from its tables, so the tests can
//! prove the fixtures and the model cover all of them.

/// 1.2, without the `alerts` navigation property (checked on its own).
#[rustfmt::skip]
pub const INCIDENT_PROPERTIES: &[&str] = &[
    "id", "assignedTo", "classification", "comments", "createdDateTime", "customTags", "description",
    "determination", "displayName", "incidentWebUrl", "lastModifiedBy", "lastUpdateDateTime",
    "priorityScore", "redirectIncidentId", "resolvingComment", "severity", "status", "summary",
    "systemTags", "tenantId",
];
/// Muster's roll-ups on an incident.
#[rustfmt::skip]
pub const INCIDENT_ROLLUPS: &[&str] = &[
    "firstActivityDateTime", "lastActivityDateTime", "alertCount", "activeAlertCount", "categories",
    "mitreTechniques", "serviceSources", "detectionSources", "impactedAssets", "osPlatforms",
    "deviceGroups", "investigationStates", "dataSensitivity",
];
/// 1.3.
#[rustfmt::skip]
pub const ALERT_PROPERTIES: &[&str] = &[
    "id", "actorDisplayName", "additionalData", "alertPolicyId", "alertWebUrl", "assignedTo",
    "categories", "category", "classification", "comments", "createdDateTime", "customDetails",
    "description", "detectionSource", "detectorId", "determination", "evidence",
    "firstActivityDateTime", "incidentId", "incidentWebUrl", "investigationState",
    "lastActivityDateTime", "lastUpdateDateTime", "mitreTechniques", "productName", "providerAlertId",
    "recommendedActions", "resolvedDateTime", "serviceSource", "severity", "status", "systemTags",
    "tenantId", "threatDisplayName", "threatFamilyName", "title",
];
/// 1.5.
#[rustfmt::skip]
pub const COMMENT_PROPERTIES: &[&str] = &["comment", "createdByDisplayName", "createdDateTime"];
#[rustfmt::skip]
pub const EVIDENCE_BASE: &[&str] = &[
    "createdDateTime", "detailedRoles", "remediationStatus", "remediationStatusDetails", "roles", "tags",
    "verdict",
];
/// 1.6, for the types the model implements.
#[rustfmt::skip]
pub const EVIDENCE_FIELDS: &[(&str, &[&str])] = &[
    ("deviceEvidence", &[
        "azureAdDeviceId", "defenderAvStatus", "deviceDnsName", "dnsDomain", "firstSeenDateTime",
        "healthStatus", "hostName", "ipInterfaces", "lastExternalIpAddress", "lastIpAddress",
        "loggedOnUsers", "mdeDeviceId", "ntDomain", "onboardingStatus", "osBuild", "osPlatform",
        "rbacGroupId", "rbacGroupName", "resourceAccessEvents", "riskScore", "version", "vmMetadata",
    ]),
    ("userEvidence", &["userAccount", "stream"]),
    ("ipEvidence", &["ipAddress", "countryLetterCode", "location", "stream"]),
    ("fileEvidence", &["detectionStatus", "fileDetails", "mdeDeviceId"]),
    ("processEvidence", &[
        "detectionStatus", "imageFile", "mdeDeviceId", "parentProcessCreationDateTime",
        "parentProcessId", "parentProcessImageFile", "processCommandLine", "processCreationDateTime",
        "processId", "userAccount",
    ]),
    ("urlEvidence", &["url"]),
    ("mailboxEvidence", &["displayName", "primaryAddress", "upn", "userAccount"]),
    ("analyzedMessageEvidence", &[
        "antiSpamDirection", "attachmentsCount", "deliveryAction", "deliveryLocation",
        "internetMessageId", "language", "networkMessageId", "p1Sender", "p2Sender",
        "receivedDateTime", "recipientEmailAddress", "senderIp", "subject", "threatDetectionMethods",
        "threats", "urlCount", "urls", "urn",
    ]),
    ("cloudApplicationEvidence", &["appId", "displayName", "instanceId", "instanceName", "saasAppId", "stream"]),
    ("registryKeyEvidence", &["registryHive", "registryKey"]),
    ("registryValueEvidence", &[
        "mdeDeviceId", "registryHive", "registryKey", "registryValue", "registryValueName",
        "registryValueType",
    ]),
    ("networkConnectionEvidence", &[
        "destinationAddress", "destinationPort", "protocol", "sourceAddress", "sourcePort",
    ]),
    ("dnsEvidence", &["dnsServerIp", "domainName", "hostIpAddress", "ipAddresses"]),
    ("fileHashEvidence", &["algorithm", "value"]),
];
/// The complex types inside evidence, by the property that holds them.
#[rustfmt::skip]
pub const COMPLEX_FIELDS: &[(&str, &[&str])] = &[
    ("userAccount", &[
        "accountName", "activeDirectoryObjectGuid", "azureAdUserId", "displayName", "domainName",
        "resourceAccessEvents", "tenantId", "userPrincipalName", "userSid",
    ]),
    ("resourceAccessEvents", &["accessDateTime", "accountId", "ipAddress", "resourceIdentifier"]),
    ("loggedOnUsers", &["accountName", "domainName"]),
    ("vmMetadata", &["cloudProvider", "resourceId", "subscriptionId", "vmId"]),
    ("stream", &["name"]),
    ("location", &["city", "countryName", "latitude", "longitude", "state"]),
    ("fileDetails", FILE_DETAILS),
    ("imageFile", FILE_DETAILS),
    ("parentProcessImageFile", FILE_DETAILS),
    ("p1Sender", EMAIL_SENDER),
    ("p2Sender", EMAIL_SENDER),
];
#[rustfmt::skip]
pub const FILE_DETAILS: &[&str] = &[
    "fileName", "filePath", "filePublisher", "fileSize", "issuer", "md5", "sha1", "sha256", "sha256Ac",
    "signer",
];
#[rustfmt::skip]
pub const EMAIL_SENDER: &[&str] = &["displayName", "domainName", "emailAddress"];

/// 1.4, member order as in the CSDL.
#[rustfmt::skip]
pub const REFERENCE_ENUMS: &[(&str, &[&str])] = &[
    ("incidentStatus", &["active", "resolved", "inProgress", "redirected", "unknownFutureValue", "awaitingAction"]),
    ("alertStatus", &["unknown", "new", "inProgress", "resolved", "unknownFutureValue"]),
    ("alertClassification", &["unknown", "falsePositive", "truePositive", "informationalExpectedActivity", "unknownFutureValue"]),
    ("alertDetermination", &[
        "unknown", "apt", "malware", "securityPersonnel", "securityTesting", "unwantedSoftware", "other",
        "multiStagedAttack", "compromisedAccount", "phishing", "maliciousUserActivity", "notMalicious",
        "notEnoughDataToValidate", "confirmedActivity", "lineOfBusinessApplication", "unknownFutureValue",
    ]),
    ("alertSeverity", &["unknown", "informational", "low", "medium", "high", "unknownFutureValue"]),
    ("evidenceRole", &[
        "unknown", "contextual", "scanned", "source", "destination", "created", "added", "compromised",
        "edited", "attacked", "attacker", "commandAndControl", "loaded", "suspicious", "policyViolator",
        "unknownFutureValue",
    ]),
    ("evidenceVerdict", &["unknown", "suspicious", "malicious", "noThreatsFound", "unknownFutureValue"]),
    ("evidenceRemediationStatus", &[
        "none", "remediated", "prevented", "blocked", "notFound", "unknownFutureValue", "active",
        "pendingApproval", "declined", "unremediated", "running", "partiallyRemediated",
    ]),
    ("investigationState", &[
        "unknown", "terminated", "successfullyRemediated", "benign", "failed", "partiallyRemediated",
        "running", "pendingApproval", "pendingResource", "queued", "innerFailure", "preexistingAlert",
        "unsupportedOs", "unsupportedAlertType", "suppressedAlert", "partiallyInvestigated",
        "terminatedByUser", "terminatedBySystem", "unknownFutureValue",
    ]),
    ("detectionStatus", &["detected", "blocked", "prevented", "unknownFutureValue"]),
    ("defenderAvStatus", &["notReporting", "disabled", "notUpdated", "updated", "unknown", "notSupported", "unknownFutureValue"]),
    ("deviceHealthStatus", &[
        "active", "inactive", "impairedCommunication", "noSensorData", "noSensorDataImpairedCommunication",
        "unknown", "unknownFutureValue",
    ]),
    ("deviceRiskScore", &["none", "informational", "low", "medium", "high", "unknownFutureValue"]),
    ("onboardingStatus", &["insufficientInfo", "onboarded", "canBeOnboarded", "unsupported", "unknownFutureValue"]),
    ("vmCloudProvider", &["unknown", "azure", "unknownFutureValue"]),
    ("servicePrincipalType", &["unknown", "application", "managedIdentity", "legacy", "unknownFutureValue"]),
    ("mailboxConfigurationType", &[
        "mailForwardingRule", "owaSettings", "ewsSettings", "mailDelegation", "userInboxRule",
        "unknownFutureValue",
    ]),
    ("fileHashAlgorithm", &["unknown", "md5", "sha1", "sha256", "sha256ac", "unknownFutureValue"]),
    ("protocolType", &["tcp", "udp", "unknownFutureValue"]),
    ("serviceSource", &[
        "unknown", "microsoftDefenderForEndpoint", "microsoftDefenderForIdentity",
        "microsoftDefenderForCloudApps", "microsoftDefenderForOffice365", "microsoft365Defender",
        "azureAdIdentityProtection", "microsoftAppGovernance", "dataLossPrevention", "unknownFutureValue",
        "microsoftDefenderForCloud", "microsoftSentinel", "microsoftInsiderRiskManagement",
        "microsoftThreatIntelligence", "microsoftSecurityForAI",
    ]),
    ("detectionSource", &[
        "unknown", "microsoftDefenderForEndpoint", "antivirus", "smartScreen", "customTi",
        "microsoftDefenderForOffice365", "automatedInvestigation", "microsoftThreatExperts",
        "customDetection", "microsoftDefenderForIdentity", "cloudAppSecurity", "microsoft365Defender",
        "azureAdIdentityProtection", "manual", "microsoftDataLossPrevention", "appGovernancePolicy",
        "appGovernanceDetection", "unknownFutureValue", "microsoftDefenderForCloud",
        "microsoftDefenderForIoT", "microsoftDefenderForServers", "microsoftDefenderForStorage",
        "microsoftDefenderForDNS", "microsoftDefenderForDatabases", "microsoftDefenderForContainers",
        "microsoftDefenderForNetwork", "microsoftDefenderForAppService", "microsoftDefenderForKeyVault",
        "microsoftDefenderForResourceManager", "microsoftDefenderForApiManagement", "nrtAlerts",
        "scheduledAlerts", "microsoftDefenderThreatIntelligenceAnalytics", "builtInMl",
        "microsoftInsiderRiskManagement", "microsoftThreatIntelligence", "microsoftDefenderForAIServices",
        "securityCopilot", "microsoftSentinel",
    ]),
];

pub fn enum_members(name: &str) -> &'static [&'static str] {
    REFERENCE_ENUMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, members)| *members)
        .unwrap_or_else(|| panic!("{name} is not in the reference list"))
}
