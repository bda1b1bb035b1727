//! Legacy password hashes of one password, made independently with Python (bcrypt,
//! argon2-cffi, hashlib.pbkdf2_hmac): bcrypt cost 4 and a small Argon2id, so tests run fast.

pub const PASSWORD: &str = "Legacy-Passw0rd!";
pub const BCRYPT: &str = "$2b$04$71WuvCQWPAynfhlj2qe5Ne9qaf5OvlWf0Q73PpyY3sU7Dvl9N2eCq";
pub const ARGON2ID: &str = "$argon2id$v=19$m=8192,t=1,p=1$DO7UFf0suVUYxZLy8sREWw$WMnfU5TwMAkCJLueUXpJnSUcTGxzhi62Xtnr6tRAXtY";
pub const PBKDF2: &str = "pbkdf2_sha256$1000$s4ltS4lt$Oi178muyMHa0EEnSkr2Q/o0rHNGpR7AlESBGAAQIafI=";
