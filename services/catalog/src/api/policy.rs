//! Who may call each catalog RPC. Resource checks (which partner, which place, which operator
//! role) follow in the commands.
use yeyak_kit::auth::{Policy, Role};

const OPS_AND_OPERATORS: &[Role] = &[Role::PlatformOps, Role::PartnerOperator];
const OPS: &[Role] = &[Role::PlatformOps];
const EVERYONE: &[Role] = &[
    Role::Customer,
    Role::PartnerOperator,
    Role::PlatformOps,
    Role::InternalService,
];

/// Who may call each catalog RPC.
pub static POLICY: Policy = Policy {
    service: "yeyak.catalog.v1.CatalogService",
    rules: &[
        ("RegisterPartner", OPS),
        (
            "GetPartner",
            &[
                Role::PlatformOps,
                Role::InternalService,
                Role::PartnerOperator,
            ],
        ),
        ("RecordChannelSettings", OPS_AND_OPERATORS),
        ("InviteOperator", OPS_AND_OPERATORS),
        ("AcceptInvitation", &[Role::PartnerOperator]),
        ("RegisterPlace", OPS_AND_OPERATORS),
        ("SubmitPlace", OPS_AND_OPERATORS),
        ("ReviewPlace", OPS),
        ("SetPlacePaused", OPS_AND_OPERATORS),
        ("ReorderProducts", OPS_AND_OPERATORS),
        ("GetPlacePage", EVERYONE),
        ("RegisterProduct", OPS_AND_OPERATORS),
        ("EditProduct", OPS_AND_OPERATORS),
        ("SubmitProduct", OPS_AND_OPERATORS),
        ("ReviewProduct", OPS),
        ("SanctionProduct", OPS),
        ("SetProductStatus", OPS_AND_OPERATORS),
        ("AddSchedules", OPS_AND_OPERATORS),
        ("ChangeCapacity", OPS_AND_OPERATORS),
        ("SetVisibility", OPS_AND_OPERATORS),
        ("CopyProduct", OPS_AND_OPERATORS),
        ("DeleteProduct", OPS_AND_OPERATORS),
        ("GetProduct", EVERYONE),
    ],
};
