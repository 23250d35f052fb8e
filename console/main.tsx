import { createRoot } from "react-dom/client";
import { Markdown } from "./markdown.js";
import "./styles.css";

createRoot(document.getElementById("root")!).render(
  <Markdown text={"# Agent Runtime\n\n**hi** `x`"} />,
);
