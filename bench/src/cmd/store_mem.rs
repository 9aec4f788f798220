//! `perf store-mem`: resident memory of the embedded in-memory store (redb) as it takes writes:
//! new items (the data grows) and rewrites of one item (the data does not), to tell data from
//! per-commit overhead in the local gateway's memory figures.

use chat::store::{EmbeddedTable, Item, Key, Table, Update};
use chat_bench::proc_status_kb;
use serde_json::json;

use crate::Args;

pub fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let writes: usize = args.num("writes", 20_000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let table = EmbeddedTable::in_memory()?;
        let rss = || proc_status_kb(std::process::id(), "VmRSS").unwrap_or(0) as f64 / 1024.0;
        let base = rss();
        println!("\n### Embedded in-memory store: resident memory under writes\n");
        println!("| writes | new 500-byte items: RSS growth MB | KB per write |");
        println!("|---|---|---|");
        let text = "x".repeat(400);
        for i in 1..=writes {
            let item: Item = json!({ "pk": format!("P#{i}"), "sk": "S", "text": text, "n": i })
                .as_object()
                .cloned()
                .unwrap_or_default();
            table.put(item, None).await?;
            if i % (writes / 4).max(1) == 0 {
                let grown = rss() - base;
                println!("| {i} | {grown:.1} | {:.1} |", grown * 1024.0 / i as f64);
            }
        }
        let base = rss();
        println!("\n| writes | updates of one item: RSS growth MB | KB per write |");
        println!("|---|---|---|");
        let key = Key::new("P#1", "S");
        for i in 1..=writes {
            table.update(&key, vec![Update::Add("n".into(), 1)], None).await?;
            if i % (writes / 4).max(1) == 0 {
                let grown = rss() - base;
                println!("| {i} | {grown:.1} | {:.1} |", grown * 1024.0 / i as f64);
            }
        }
        Ok(())
    })
}
