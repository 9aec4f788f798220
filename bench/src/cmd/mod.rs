pub mod cold_start;
pub mod cost;
pub mod fanout;
pub mod handlers;
pub mod hot;
pub mod load;
pub mod serve;
pub mod store_mem;
