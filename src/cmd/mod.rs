pub mod check;
pub mod digest;
pub mod events;
pub mod gc;
pub mod generate;
pub mod serve;
pub mod sim;
pub mod token;
