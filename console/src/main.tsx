import { render } from "preact";
import { App } from "./app";
import { resume } from "./auth";
import { loadConfig } from "./config";
import "./styles.css";

async function boot() {
  const root = document.getElementById("app");
  if (!root) return;
  try {
    await loadConfig();
    await resume().catch(() => null);
  } catch (error) {
    root.textContent = `The console cannot start: ${error instanceof Error ? error.message : String(error)}`;
    return;
  }
  root.textContent = "";
  render(<App />, root);
}

void boot();
