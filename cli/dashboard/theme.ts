import { createContext, useContext } from "react";
import type { Color } from "./styled_text.ts";

/** How the dashboard paints: without colours when NO_COLOR is set. */
export interface Theme {
  colors: boolean;
}

export const ThemeContext = createContext<Theme>({ colors: true });

/** The theme's colour for `color`: none when colours are off. */
export function useColor(): (color: Color | undefined) => Color | undefined {
  const { colors } = useContext(ThemeContext);
  return (color) => colors ? color : undefined;
}
